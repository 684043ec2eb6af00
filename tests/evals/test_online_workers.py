"""Online-evaluation workers sharing one database: leases and attempts on both dialects, two real
``contrail worker`` processes on PostgreSQL scoring each trace exactly once, and a worker killed
mid-job whose job another worker retries once the lease ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contrail.evals import online, online_jobs
from contrail.store.database import open_engine
from contrail.store.eval_tables import eval_jobs
from contrail.store.migrate import upgrade
from contrail.store.projects import create_project
from contrail.testing.fake_llm import FakeLLM
from tests.conftest import LiveContrail, fresh_postgres_database, start_contrail
from tests.evals.online_fixtures import ingest, scores, settled_jobs, trace_events, wait_for

GOOD = json.dumps({"reasoning": "Fine.", "score": 5})
SECOND = 1_000_000


def _judge(fake_llm: FakeLLM, **options: Any) -> dict[str, Any]:
    return {
        "type": "judge",
        "rubric": "helpfulness",
        "model": "judge-model",
        "base_url": fake_llm.openai_base_url,
        "max_retries": 0,
        **options,
    }


# --- the queue on both dialects ----------------------------------------------------------------------


def test_leases_expire_attempts_are_bounded_and_only_the_holder_finishes(database_url: str) -> None:
    engine = open_engine(database_url)
    upgrade(engine)
    project = create_project(engine, f"queue-{os.urandom(4).hex()}").id
    body = online.RuleIn(name="r", sampling_percent=100, scorer={"type": "contains", "value": "x"})
    rule = online.create_rule(engine, project, body)
    now = 1_900_000_000 * SECOND
    with engine.begin() as connection:
        connection.execute(eval_jobs.insert().values(**online_jobs._job_row(rule, "ab" * 16, "", now)))
    claim = {"limit": 10, "lease_us": SECOND, "max_attempts": 2}
    first = [j for j in online_jobs.claim(engine, worker="a", now_us=now, **claim) if j.project_id == project]
    during_lease = [
        j for j in online_jobs.claim(engine, worker="b", now_us=now + 1, **claim) if j.project_id == project
    ]
    retried = [
        j
        for j in online_jobs.claim(engine, worker="b", now_us=now + 2 * SECOND, **claim)
        if j.project_id == project
    ]
    stale_finish = online_jobs.finish(engine, first[0], worker="a", now_us=now + 3 * SECOND)
    online_jobs.claim(engine, worker="c", now_us=now + 9 * SECOND, **claim)  # b's lease ran out: 2 of 2
    final = online_jobs.list_jobs(engine, project, rule.id)
    engine.dispose()
    assert [j.attempts for j in first] == [1] and during_lease == []
    assert [j.attempts for j in retried] == [2]
    assert stale_finish is False  # a ended after losing its lease: its outcome does not count
    assert (final[0]["status"], final[0]["attempts"]) == ("failed", 2)
    assert "2 attempts" in final[0]["last_error"]


# --- real worker processes on PostgreSQL -------------------------------------------------------------


@pytest.fixture
def postgres_server(tmp_path: Path) -> Iterator[tuple[str, LiveContrail]]:
    """A fresh PostgreSQL database and a server that leaves scoring to `contrail worker` processes."""
    with fresh_postgres_database() as url:
        server, live = start_contrail(url, tmp_path / "home", online_evals=False)
        try:
            yield url, live
        finally:
            server.stop()


class Workers:
    """`contrail worker` processes started by a test, stopped (or killed) by it."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"worker-{len(self.started)}.log"
        environ = os.environ | {
            "CONTRAIL_DATABASE_URL": self.url,
            "CONTRAIL_HOME": str(self.folder / "home"),
            "CONTRAIL_ONLINE_EVAL_POLL_SECONDS": "0.05",
            "CONTRAIL_ONLINE_EVAL_SETTLE_SECONDS": "0",
            "CONTRAIL_ONLINE_EVAL_BATCH_SIZE": "2",
            **env,
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "contrail.cli", "worker"], env=environ, stdout=out, stderr=out
            )
        self.started.append((process, log))
        wait_for(lambda: b"started" in log.read_bytes() or process.poll() is not None, what="the worker")
        assert process.poll() is None, log.read_text()
        return process

    def stop_all(self) -> list[int]:
        for process, _ in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=60) for process, _ in self.started]


@pytest.fixture
def workers(postgres_server: tuple[str, LiveContrail], tmp_path: Path) -> Iterator[Workers]:
    started = Workers(postgres_server[0], tmp_path)
    yield started
    started.stop_all()


def _worker_of_each_job(url: str) -> dict[str, str]:
    engine = open_engine(url)
    with engine.connect() as connection:
        found = {
            r.trace_id: r.worker for r in connection.execute(select(eval_jobs.c.trace_id, eval_jobs.c.worker))
        }
    engine.dispose()
    return found


def test_two_worker_processes_score_each_trace_exactly_once(
    postgres_server: tuple[str, LiveContrail], workers: Workers, fake_llm: FakeLLM
) -> None:
    url, live = postgres_server
    fake_llm.script.on().latency(ttft_ms=100).respond(GOOD)  # slow enough that both workers get work
    with live.client() as client:
        rule = client.post(
            "/api/v1/eval-rules", json={"name": "judged", "sampling_percent": 100, "scorer": _judge(fake_llm)}
        )
        assert rule.status_code == 201, rule.text
        workers.start()
        workers.start()
        ingest(client, [e for n in range(1, 41) for e in trace_events(n, f"answer {n}: Paris")])
        finished = settled_jobs(client, rule.json()["id"], 40)
        found = scores(client, "judged")
    exit_codes = workers.stop_all()
    by_job_worker = _worker_of_each_job(url)
    prompts = [r.prompt for r in fake_llm.requests]
    assert {(j["status"], j["attempts"]) for j in finished} == {("done", 1)}
    assert [sum(f"answer {n}:" in p for p in prompts) for n in range(1, 41)] == [
        1
    ] * 40  # one judge call each
    assert sorted(s["trace_id"] for s in found) == sorted(f"{n:032x}" for n in range(1, 41))
    assert {s["value"] for s in found} == {1.0}
    assert len(set(by_job_worker.values())) == 2  # both processes took part
    assert exit_codes == [0, 0]


def test_a_killed_workers_job_is_retried_when_its_lease_ends(
    postgres_server: tuple[str, LiveContrail], workers: Workers, fake_llm: FakeLLM
) -> None:
    url, live = postgres_server
    fake_llm.script.on(times=1).timeout(30)  # the first judge call hangs: the worker dies waiting
    fake_llm.script.on().respond(GOOD)
    with live.client() as client:
        rule_id = client.post(
            "/api/v1/eval-rules",
            json={"name": "judged", "sampling_percent": 100, "scorer": _judge(fake_llm, timeout_seconds=60)},
        ).json()["id"]
        doomed = workers.start(CONTRAIL_ONLINE_EVAL_LEASE_SECONDS="1")
        ingest(client, trace_events(7, "answer 7: Paris"))
        wait_for(
            lambda: [j for j in _jobs(client, rule_id) if j["status"] == "running"] and fake_llm.requests,
            what="the job to be running in the judge call",
        )
        doomed.kill()
        doomed.wait()
        workers.start()
        (job,) = settled_jobs(client, rule_id, 1)
        (score,) = scores(client, "judged")
    assert (job["status"], job["attempts"]) == ("done", 2)
    assert (score["trace_id"], score["value"], score["metadata"]["attempt"]) == (f"{7:032x}", 1.0, 2)
    assert len(fake_llm.requests) == 2  # the hung call and the retry
    assert _worker_of_each_job(url)[f"{7:032x}"] == score["metadata"]["worker"]


def _jobs(client: httpx.Client, rule_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/api/v1/eval-rules/{rule_id}/jobs").json()["data"]
    return found
