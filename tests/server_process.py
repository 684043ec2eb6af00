"""A `contrail server` in its own process, for tests that kill it or run several."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

_START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    home: Path, port: int, *, keep_database_url: bool = False, args: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CONTRAIL_HOME=str(home))
    if not keep_database_url:
        env.pop("CONTRAIL_DATABASE_URL", None)
    Path(home).mkdir(parents=True, exist_ok=True)
    log = Path(home) / f"server-{port}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "contrail.cli", "server", "--port", str(port), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    # Generous: a loaded 2-core machine has taken 13 s to import and migrate; failing fast when the
    # process dies keeps real start-up errors quick to see.
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"contrail server exited with {process.returncode} before answering:\n{tail}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"contrail server did not start within {_START_SECONDS} s")
