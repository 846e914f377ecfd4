"""Shared test configuration: hypothesis profiles and the ``req`` marker.

``HYPOTHESIS_PROFILE=ci`` (set by ``make test`` when ``CI=true``) runs more examples.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# The storage contract is a helper module of assertions: rewrite them for readable failures.
pytest.register_assert_rewrite("tests.storage_contract", "storage_contract")

settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
