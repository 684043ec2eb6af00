"""The GC tuning of contrail.heap applies to processes Contrail owns, never to a host process."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from tests.conftest import start_contrail


def test_an_embedded_server_leaves_the_host_process_garbage_collector_alone(tmp_path: Path) -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    server, live = start_contrail(f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "home")
    try:
        answered = httpx.get(f"{live.url}/api/v1/traces", auth=(live.public_key, live.secret_key))
    finally:
        server.stop()
    assert answered.status_code == 200
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)


def test_the_server_process_settles_its_heap_after_startup(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import gc
        from starlette.testclient import TestClient
        from contrail.server.app import create_app
        from contrail.server.settings import Settings

        url = "sqlite:///{tmp_path}/c.db"
        settings = Settings(home={str(tmp_path)!r}, database_url=url, writer_process=False)
        with TestClient(create_app(settings, owns_process=True)):
            print(gc.get_threshold()[0], gc.get_freeze_count() > 0)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split() == ["10000", "True"]
