"""GET /metrics with `contrail server --workers 2`: every scrape, whichever worker answers it, adds up
what all workers counted, the model-name bound holds for the server, and the launcher's metrics
directory is gone after exit."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contrail.server.model_labels import OTHER, SharedModelLabels
from contrail.server.telemetry import MAX_MODELS_PER_PROJECT
from tests.server_process import free_port, start_server

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _batch(request: int) -> list[dict[str, Any]]:
    """Two model calls (one of a model no other request uses) and one span the server rejects."""

    def call(span: str, model: str) -> dict[str, Any]:
        body = {
            "trace_id": f"{request + 1:032x}",
            "span_id": span,
            "name": "llm",
            "type": "generation",
            "start_us": 1_760_000_000_000_000,
            "model_requested": model,
            "usage": {"input_tokens": 10, "output_tokens": 2},
        }
        return {"id": span, "type": "observation", "body": body}

    return [call("1" * 16, "gpt-4o-mini"), call("2" * 16, f"model-{request}"), call("0" * 16, "gpt-4o")]


def _send(url: str, headers: dict[str, str], request: int) -> None:
    # A client per request: a new connection, which the kernel may hand to either worker.
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        response = client.post("/api/v1/ingest", json={"batch": _batch(request)})
    assert response.status_code in (200, 207), response.text


def _ingest_until_both_workers_served(url: str, headers: dict[str, str], metrics_dir: Path) -> int:
    """Send batches 8 at a time until two processes have counted some (each worker writes its
    counters to its own file); returns how many batches were sent."""
    sent = 0
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(8) as pool:
        while sent < 2 * (MAX_MODELS_PER_PROJECT + 10) or len(list(metrics_dir.glob("counter_*.db"))) < 2:
            assert time.monotonic() < deadline, "one worker answered every request for a minute"
            list(pool.map(lambda i: _send(url, headers, i), range(sent, sent + 8)))
            sent += 8
    return sent


def _scrape(url: str, headers: dict[str, str]) -> Samples:
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    return _samples(response.text)


def test_two_workers_scrape_the_totals_of_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # where the launcher makes its metrics directory
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path / "home", port, args=("--workers", "2"))
    try:
        saved = json.loads((tmp_path / "home" / "first-run-credentials.json").read_text())
        headers = {"Authorization": f"Bearer {saved['secret_key']}"}
        [metrics_dir] = temp.glob("contrail-metrics-*")
        sent = _ingest_until_both_workers_served(url, headers, metrics_dir)
        project = httpx.get(f"{url}/api/v1/whoami", headers=headers).json()["project_id"]
        scrapes = [_scrape(url, headers) for _ in range(6)]
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert all(scrape == scrapes[0] for scrape in scrapes)
    samples = scrapes[0]
    native = (("endpoint", "native"),)
    assert samples[("contrail_ingest_spans_total", (*native, ("outcome", "accepted")))] == 2 * sent
    assert samples[("contrail_ingest_spans_total", (*native, ("outcome", "rejected")))] == sent
    calls = {dict(k)["model"]: v for (name, k), v in samples.items() if name == "contrail_llm_calls_total"}
    assert sum(calls.values()) == 2 * sent
    assert calls["gpt-4o-mini"] == sent
    assert len(calls) == MAX_MODELS_PER_PROJECT + 1  # 50 names for the whole server, then "other"
    assert calls[OTHER] == sent - (MAX_MODELS_PER_PROJECT - 1)
    assert all(dict(k)["project"] == project for (name, k) in samples if name.startswith("contrail_llm_"))
    input_tokens = (("direction", "input"), ("model", "gpt-4o-mini"), ("project", project))
    assert samples[("contrail_llm_tokens_total", input_tokens)] == 10 * sent
    assert samples[("contrail_write_queue_pending", ())] == 0
    assert samples[("contrail_write_group_seconds_count", ())] >= 2
    workers = {dict(k)["pid"] for (name, k) in samples if name == "contrail_build_info"}
    assert len(workers) == 2
    assert not metrics_dir.exists()  # removed when the server stopped


def test_one_worker_ignores_a_multiprocess_directory_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "stale"
    stale.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(stale))
    port = free_port()
    server = start_server(tmp_path / "home", port)
    try:
        saved = json.loads((tmp_path / "home" / "first-run-credentials.json").read_text())
        headers = {"Authorization": f"Bearer {saved['secret_key']}"}
        _send(f"http://127.0.0.1:{port}", headers, 0)
        samples = _scrape(f"http://127.0.0.1:{port}", headers)
    finally:
        server.terminate()
        server.wait(timeout=30)
    accepted = (("endpoint", "native"), ("outcome", "accepted"))
    assert samples[("contrail_ingest_spans_total", accepted)] == 2
    assert list(stale.iterdir()) == []  # counted in the process, nothing written there


def test_processes_sharing_a_directory_admit_fifty_models_per_project_between_them(tmp_path: Path) -> None:
    first, second = (SharedModelLabels(tmp_path, limit=3) for _ in range(2))
    assert [first.label("p1", m) for m in ("a", 'quote"d', "new\nline")] == ["a", 'quote"d', "new\nline"]
    assert second.label("p1", "d") == OTHER  # the project is full, whoever admitted its names
    assert second.label("p1", "new\nline") == "new\nline"
    assert first.label("p1", "d") == OTHER
    assert second.label("p2", "d") == "d"  # a bound per project
    assert first.label("p2", "e") == "e"
