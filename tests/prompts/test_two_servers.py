"""Two server processes on one PostgreSQL database: racing label moves and creates stay consistent."""

from __future__ import annotations

import itertools
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from contrail.store.database import open_engine
from contrail.store.projects import create_key, create_project
from tests.server_process import free_port, start_server

ROUNDS = 10


def test_label_moves_and_creates_across_two_processes(
    postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTRAIL_DATABASE_URL", postgres_database)
    ports = [free_port(), free_port()]
    servers = [
        start_server(tmp_path / f"home{i}", port, keep_database_url=True) for i, port in enumerate(ports)
    ]
    try:
        engine = open_engine(postgres_database)
        issued = create_key(engine, create_project(engine, f"prompts-{uuid.uuid4().hex[:8]}").id)
        engine.dispose()
        clients = [
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {issued.secret_key}"},
                timeout=30,
            )
            for port in ports
        ]
        for version in range(1, 5):
            created = clients[0].post("/api/v1/prompts", json={"name": "shared", "prompt": f"v{version}"})
            assert created.json()["version"] == version
        barrier = threading.Barrier(2)
        failures: list[str] = []

        def work(index: int) -> None:
            client = clients[index]
            barrier.wait()
            for round_no in range(ROUNDS):
                target = 1 + (index * 2 + round_no) % 4
                moved = client.patch("/api/v1/prompts/shared/labels", json={"labels": {"production": target}})
                created = client.post(
                    "/api/v1/prompts", json={"name": "raced", "prompt": f"{index}-{round_no}"}
                )
                if moved.status_code != 200 or created.status_code != 201:
                    failures.append(
                        f"{moved.status_code} {moved.text} / {created.status_code} {created.text}"
                    )

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []

        for client in clients:
            versions = client.get("/api/v1/prompts/shared/versions").json()["data"]
            holders = [v["version"] for v in versions if "production" in v["labels"]]
            assert len(holders) == 1
            history = [
                e
                for e in client.get("/api/v1/prompts/shared/labels/history").json()["data"]
                if e["label"] == "production"
            ][::-1]
            assert history[-1]["to_version"] == holders[0]
            assert all(a["to_version"] == b["from_version"] for a, b in itertools.pairwise(history))
            raced = client.get("/api/v1/prompts/raced/versions").json()["data"]
            assert sorted(v["version"] for v in raced) == list(range(1, 2 * ROUNDS + 1))
        for client in clients:
            client.close()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
