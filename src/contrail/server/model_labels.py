"""The model names a project's Prometheus series may carry: the first ``limit`` seen, then ``other``.

A client sending random model names must not grow the scrape without bound. In one process the
admitted names are a set in memory (:class:`ModelLabels`). The worker processes of one server share
them through a file per project in the metrics directory (:class:`SharedModelLabels`), so the bound
holds for the whole server rather than per worker, and every worker gives a name the same label.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

OTHER = "other"


class ModelLabels:
    """The first ``limit`` model names of each project, in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._admitted: dict[str, set[str]] = {}

    def label(self, project_id: str, model: str) -> str:
        """``model`` when the project has admitted it or has room for it, else ``other``."""
        admitted = self._admitted.setdefault(project_id, set())
        if model in admitted:
            return model
        if len(admitted) >= self.limit:
            return OTHER
        admitted.add(model)
        return model


class SharedModelLabels:
    """The first ``limit`` model names of each project, agreed by every process using ``directory``.

    Each project has a file of admitted names (one JSON string a line), appended under an exclusive
    ``flock``. A process reads it only for names it has not seen yet, and not at all once the project
    is full (the list never shrinks while the server runs), so the file is touched at most ``limit + 1``
    times per project and process.
    """

    def __init__(self, directory: Path, limit: int) -> None:
        self.limit = limit
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._admitted: dict[str, frozenset[str]] = {}
        self._full: set[str] = set()
        self._lock = threading.Lock()

    def label(self, project_id: str, model: str) -> str:
        """``model`` when the project has admitted it or has room for it, else ``other``."""
        if model in self._admitted.get(project_id, ()):
            return model
        if project_id in self._full:
            return OTHER
        with self._lock:
            admitted = self._admit(project_id, model)
        self._admitted[project_id] = admitted
        if len(admitted) >= self.limit:
            self._full.add(project_id)
        return model if model in admitted else OTHER

    def _admit(self, project_id: str, model: str) -> frozenset[str]:
        import fcntl  # POSIX only, as is running several workers on one socket

        path = self._directory / (hashlib.sha256(project_id.encode()).hexdigest()[:32] + ".jsonl")
        with path.open("a+", encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX)  # released when the file is closed
            file.seek(0)
            names = [json.loads(line) for line in file if line.strip()]
            if model not in names and len(names) < self.limit:
                file.write(json.dumps(model) + "\n")
                names.append(model)
        return frozenset(names)
