"""The testing kit: a pytest plugin, builders, suites for storage adapters, hypothesis strategies.

Install it with ``pip install credflow[testing]`` (pytest and hypothesis). See docs/testing.md.

- ``credflow.testing.plugin``: the fixtures ``credflow_app``, ``credflow_settings``,
  ``credflow_storage``, ``frozen_clock`` and ``outbox``, loaded by pytest automatically;
- ``make_settings``, ``make_app``: the same objects without the fixtures;
- ``TestOutbox`` and ``NoMessage``: the outbox with ``last_link``, ``last_token``, ``last_code``;
- ``StorageContract`` and ``StorageRaces``: the suites a storage adapter must pass;
- ``credflow.testing.strategies``: identifiers, emails, passwords and answers for hypothesis.

Names are imported on first use, not with the package: pytest imports the plugin (and so this
package) before coverage starts measuring, and before a test asks for any of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from credflow.testing.app import TEST_BASE_URL, TEST_SECRET_KEY, make_app, make_settings
    from credflow.testing.contract import StorageContract
    from credflow.testing.outbox import NoMessage, TestOutbox
    from credflow.testing.races import StorageRaces

__all__ = [
    "TEST_BASE_URL",
    "TEST_SECRET_KEY",
    "NoMessage",
    "StorageContract",
    "StorageRaces",
    "TestOutbox",
    "make_app",
    "make_settings",
]

_HOMES = {
    "TEST_BASE_URL": "app",
    "TEST_SECRET_KEY": "app",
    "make_app": "app",
    "make_settings": "app",
    "NoMessage": "outbox",
    "TestOutbox": "outbox",
    "StorageContract": "contract",
    "StorageRaces": "races",
}


def __getattr__(name: str) -> Any:
    """Import ``name`` from its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'credflow.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"credflow.testing.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
