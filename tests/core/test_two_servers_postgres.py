"""Two server processes on one PostgreSQL database ingest the same traces concurrently; both see it all."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import httpx

from contrail.store.database import open_engine
from contrail.store.projects import create_key, create_project
from tests.server_process import free_port, start_server


def test_two_servers_share_one_postgres_database(postgres_database: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CONTRAIL_DATABASE_URL", postgres_database)
    ports = [free_port(), free_port()]
    servers = [
        start_server(tmp_path / f"home{i}", port, keep_database_url=True) for i, port in enumerate(ports)
    ]
    try:
        engine = open_engine(postgres_database)
        issued = create_key(engine, create_project(engine, f"pair-{uuid.uuid4().hex[:8]}").id)
        engine.dispose()
        headers = {"Authorization": f"Bearer {issued.secret_key}"}
        traces = [uuid.uuid4().hex for _ in range(20)]

        def send(port: int, offset: int) -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
                for round_no in range(10):
                    batch = [
                        {
                            "id": f"{offset}-{round_no}-{t}",
                            "type": "observation",
                            "body": {
                                "trace_id": trace,
                                "span_id": f"{offset:02x}{round_no:02x}{t:04x}".ljust(16, "f"),
                                "name": "step",
                                "start_us": 1_760_000_000_000_000 + round_no,
                                "usage": {"input_tokens": 1, "output_tokens": 1},
                                "session_id": f"s-{t % 4}",
                                "user_id": "u-shared",
                            },
                        }
                        for t, trace in enumerate(traces)
                    ]
                    response = client.post("/api/v1/ingest", json={"batch": batch})
                    assert response.status_code == 207 and not response.json()["errors"], response.text

        threads = [threading.Thread(target=send, args=(port, i)) for i, port in enumerate(ports)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        for port in ports:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
                listed = client.get("/api/v1/traces", params={"limit": 100}).json()["data"]
            assert sorted(t["trace_id"] for t in listed) == sorted(traces)
            # 2 servers x 10 rounds, one span per trace each time; rollups exact despite concurrency.
            assert {t["observation_count"] for t in listed} == {20}
            assert {t["total_tokens"] for t in listed} == {40}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
                users = client.get("/api/v1/users").json()["data"]
                sessions = client.get("/api/v1/sessions").json()["data"]
            assert [(u["user_id"], u["trace_count"], u["total_tokens"]) for u in users] == [
                ("u-shared", 20, 800)
            ]
            assert sorted((s["session_id"], s["trace_count"]) for s in sessions) == [
                (f"s-{i}", 5) for i in range(4)
            ]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
