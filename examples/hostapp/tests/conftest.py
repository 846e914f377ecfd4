"""The host app's test configuration: its own credflow settings for every test.

The plugin's ``credflow_app`` builds on the ``credflow_settings`` fixture; overriding it here is
how a host app tests with the settings it deploys (``make_settings`` keeps the test key, the test
base URL and the fast ``hashing.TESTING`` profile, and takes any field as an override).
"""

from __future__ import annotations

import pytest

from credflow import Settings
from credflow.testing import make_settings


@pytest.fixture
def credflow_settings() -> Settings:
    return make_settings("nist", locale="en")
