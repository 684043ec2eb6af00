"""The first-run credentials file: lets `contrail server` show the first key pair on every start.

Secrets are stored hashed in the database, so the clear secret of the key made on first run is
kept only here, in CONTRAIL_HOME with owner-only permissions, for local use. Delete the file (or
revoke the key) to forget it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE_NAME = "first-run-credentials.json"


def save(home: Path, values: dict[str, str]) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / FILE_NAME
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle, indent=2)
    return path


def load(home: Path) -> dict[str, str] | None:
    path = home / FILE_NAME
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else None
