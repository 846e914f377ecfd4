"""credflow in a FastAPI app: ``create_app(cf)`` in ``examples.fastapi.app``."""
