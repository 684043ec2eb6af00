"""Shared by the online-evaluation tests: traces to ingest, a fast live server, waiting for jobs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.conftest import LiveContrail, start_contrail

START = 1_760_000_000_000_000
T = TypeVar("T")
# Workers poll fast and sample at once, so tests wait milliseconds, not the production 2 s + 10 s.
FAST = {"online_eval_poll_seconds": 0.05, "online_eval_settle_seconds": 0}


def trace_events(n: int, output: str, *, tags: tuple[str, ...] = ("prod",), question: str = "q") -> list[Any]:
    """A trace (root + one generation child) with id ``n`` whose root answers ``output``."""
    trace_id = f"{n:032x}"
    root = {
        "trace_id": trace_id,
        "span_id": f"{n:016x}",
        "name": "answer",
        "start_us": START + n,
        "end_us": START + n + 10,
        "tags": list(tags),
        "input": {"question": f"{question} {n}"},
        "output": output,
    }
    child = {
        "trace_id": trace_id,
        "span_id": f"{n + 10_000:016x}",
        "parent_span_id": f"{n:016x}",
        "type": "generation",
        "name": "llm",
        "model_requested": "gpt-4o-mini",
        "start_us": START + n + 1,
        "end_us": START + n + 9,
        "input": [{"role": "user", "content": f"{question} {n}"}],
        "output": f"generated {output}",
    }
    return [
        {"id": f"r{n}", "type": "observation", "body": root},
        {"id": f"c{n}", "type": "observation", "body": child},
    ]


def ingest(client: httpx.Client, events: list[Any]) -> None:
    response = client.post("/api/v1/ingest", json={"batch": events})
    assert response.status_code == 207, response.text
    assert response.json()["errors"] == [], response.text


def wait_for(check: Callable[[], T | None], *, deadline_s: float = 60.0, what: str = "the condition") -> T:
    """Poll ``check`` until it returns something truthy (no fixed sleeps in assertions)."""
    end = time.monotonic() + deadline_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def jobs(client: httpx.Client, rule_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/eval-rules/{rule_id}/jobs", params={"limit": 500})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


def settled_jobs(client: httpx.Client, rule_id: str, count: int) -> list[dict[str, Any]]:
    """Wait until the rule has ``count`` jobs, all done or failed."""

    def check() -> list[dict[str, Any]] | None:
        found = jobs(client, rule_id)
        finished = [j for j in found if j["status"] in ("done", "failed")]
        return found if len(found) == count and len(finished) == count else None

    return wait_for(check, what=f"{count} finished jobs")


def scores(client: httpx.Client, name: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/scores", params={"name": name, "limit": 500})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


def running_fast(database_url: str, tmp_path: Path, **settings: object) -> Iterator[LiveContrail]:
    """A live server whose in-process online-evaluation worker reacts at once (yield from a fixture)."""
    server, live = start_contrail(database_url, tmp_path / "home", **(FAST | settings))
    try:
        yield live
    finally:
        server.stop()
