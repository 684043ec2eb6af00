"""Acknowledged means durable: SIGKILL a server under ingest load, and every acknowledged span survives."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, text

from tests.server_process import free_port, start_server


def _batch(client_no: int, batch_no: int) -> tuple[dict[str, object], list[str]]:
    trace = f"{client_no:04x}{batch_no:012x}".ljust(32, "a")
    spans = [f"{batch_no:08x}{i:08x}" for i in range(1, 51)]
    events = [
        {
            "id": s,
            "type": "observation",
            "body": {
                "trace_id": trace,
                "span_id": s,
                "name": "load",
                "start_us": 1_760_000_000_000_000,
                "input": "x" * 300,
            },
        }
        for s in spans
    ]
    return {"batch": events}, [trace + s for s in spans]


def test_sigkill_under_load_loses_no_acknowledged_span(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path, port)
    secret = json.loads((tmp_path / "first-run-credentials.json").read_text())["secret_key"]
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load(client_no: int) -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {secret}"}, timeout=10
        ) as client:
            for batch_no in range(1, 100_000):
                if stop.is_set():
                    return
                body, keys = _batch(client_no, batch_no)
                try:
                    response = client.post("/api/v1/ingest", json=body)
                except httpx.TransportError:
                    return
                if response.status_code == 207 and not response.json()["errors"]:
                    with lock:
                        acknowledged.extend(keys)

    threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(acknowledged) >= 3_000:
                break
        time.sleep(0.01)
    children = psutil.Process(server.pid).children(recursive=True)  # the writer process
    assert children, "the server runs its writer in a child process"
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], "the writer process outlived its server"
    stop.set()
    for thread in threads:
        thread.join(timeout=15)

    assert len(acknowledged) >= 1_000, "the load never got going"
    engine = create_engine(f"sqlite:///{tmp_path / 'contrail.db'}")
    with engine.connect() as connection:
        stored = {r[0] + r[1] for r in connection.execute(text("SELECT trace_id, span_id FROM observations"))}
    engine.dispose()
    missing = [key for key in acknowledged if key not in stored]
    assert missing == []

    restarted = start_server(tmp_path, port)  # and the database opens cleanly afterwards
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {secret}"}
        ) as c:
            assert c.get("/api/v1/traces", params={"limit": 1}).status_code == 200
    finally:
        restarted.terminate()
        restarted.wait(timeout=10)
