"""The portal's secret key: from ``CREDFLOW_SECRET_KEY``, or made once into the instance folder.

Both applications of the demo read the same key, so each accepts the other's sessions. The key is
never printed or logged; the file is created readable by its owner only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

ENV = "CREDFLOW_SECRET_KEY"
FILE = "secret_key"


def load_secret(instance: Path) -> str:
    """The environment's key, else the instance file's, else a new one written there."""
    from_env = os.environ.get(ENV)
    if from_env:
        return from_env
    path = instance / FILE
    instance.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()


def derive(secret: str, purpose: str) -> bytes:
    """A key for one purpose (Flask's cookie signing, say), so no key serves two jobs."""
    return hmac.new(secret.encode(), b"portal:" + purpose.encode(), hashlib.sha256).digest()
