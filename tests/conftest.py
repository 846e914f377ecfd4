"""Shared test configuration: hypothesis profiles and the credflow pytest plugin.

``HYPOTHESIS_PROFILE=ci`` (set by ``make test`` when ``CI=true``) runs more examples.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The credflow plugin (fixtures credflow_app, outbox...; assertion rewriting of the published
# storage suites). Its entry point is disabled in pyproject (`-p no:credflow`) so that it loads
# here, once pytest-cov measures. pytester runs the host app example (examples/hostapp).
pytest_plugins = ["credflow.testing.plugin", "pytester", "tests.cli_fixtures"]

settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
