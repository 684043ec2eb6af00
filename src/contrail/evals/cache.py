"""On-disk cache of target outputs, so re-running an experiment does not pay for identical calls.

Keyed by a hash of the target's configuration (``Target.describe()``) and the item input; only
successful outputs are stored. One SQLite file (stdlib ``sqlite3``, WAL) that several runs may share.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from contrail.evals.targets import TargetOutput

DEFAULT_PATH = Path.home() / ".cache" / "contrail" / "eval-cache.sqlite3"


def cache_key(target: dict[str, Any], input: Any) -> str:
    text = json.dumps([target, input], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """Target outputs by :func:`cache_key`; ``get`` / ``put`` are a few tens of µs each."""

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # A lost cache entry costs one repeated call; no need to fsync every write.
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS outputs (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str) -> TargetOutput | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM outputs WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        raw = json.loads(row[0])
        self.hits += 1
        cost = raw.get("cost_usd")
        return TargetOutput(
            raw.get("output"),
            cost_usd=None if cost is None else Decimal(cost),
            input_tokens=raw.get("input_tokens"),
            output_tokens=raw.get("output_tokens"),
            context=raw.get("context"),
        )

    def put(self, key: str, value: TargetOutput) -> None:
        raw = {
            "output": value.output,
            "cost_usd": None if value.cost_usd is None else str(value.cost_usd),
            "input_tokens": value.input_tokens,
            "output_tokens": value.output_tokens,
            "context": value.context,
        }
        try:
            text = json.dumps(raw, ensure_ascii=False)
        except (TypeError, ValueError):
            return  # an output that is not JSON cannot be replayed faithfully: don't cache it
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO outputs (key, value) VALUES (?, ?)", (key, text))

    def close(self) -> None:
        with self._lock:
            self._db.close()
