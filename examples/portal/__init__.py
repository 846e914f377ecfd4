"""The example customer portal: Flask on credflow's public API (see docs/integration/flask.md).

python -m examples.portal --portal sage     # or: make demo
"""

from __future__ import annotations

from examples.portal.app import create_app

__all__ = ["create_app"]
