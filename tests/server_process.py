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
    process = subprocess.Popen(
        [sys.executable, "-m", "contrail.cli", "server", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("contrail server did not start within 30 s")
