"""Storage: the ``Storage`` protocol (``protocols``), its records (``records``), and the adapters
``memory.MemoryStorage`` and ``sql.SQLStorage`` (the ``sql`` extra); see docs/storage.md.

The adapters are imported from their modules, never from here, so that importing credflow does not
import SQLAlchemy.
"""
