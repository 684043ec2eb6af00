"""What `make run` does: `contrail server --demo` on a fresh CONTRAIL_HOME prints credentials and fills
the default project with demo traces, which the API then serves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.server_process import free_port, start_server


def test_server_with_demo_seeds_an_empty_project_once(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path, port, args=("--demo",))
    try:
        saved = json.loads((tmp_path / "first-run-credentials.json").read_text())
        headers = {"Authorization": f"Bearer {saved['secret_key']}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as client:
            deadline = time.monotonic() + 90
            users: list[dict[str, object]] = []
            while time.monotonic() < deadline and len(users) < 3:
                users = client.get("/api/v1/users").json()["data"]
                time.sleep(0.5)
            traces = client.get("/api/v1/traces", params={"limit": 50}).json()["data"]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert len(users) >= 3
    assert any(t["total_cost_usd"] not in (None, "0") for t in traces)
    assert {m for t in traces for m in t["models"]} & {"gpt-4o-mini", "gpt-4o", "claude-haiku-4-5"}
