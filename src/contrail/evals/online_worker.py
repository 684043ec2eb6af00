"""The online-evaluation worker: sample rules, claim jobs, score them, write scores on the traces.

One ``OnlineEvalWorker`` runs as a thread inside each server process (``CONTRAIL_ONLINE_EVALS``) and
in each ``contrail worker`` process. Any number can share a database: the queue
(``contrail.evals.online_jobs``) hands each job to one worker at a time, and a job's score has an id
derived from (rule, trace, observation), so even a job retried after a lost lease leaves one score.

A scorer that answers with an error (a judge that could not be parsed, a regex on a missing output)
fails the job with the error and the raw answer; it is not retried (judges retry calls themselves).
Anything else going wrong (database, a crash) puts the job back for another attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from contrail.evals.base import EvalCase, Scorer, ScoreResult
from contrail.evals.online import Rule, list_rules
from contrail.evals.online_jobs import Job, claim, finish, has_work, sample_rule
from contrail.evals.scorers.spec import build_scorer
from contrail.schema.score import Score, ScoreDataType, ScoreSource
from contrail.schema.timeconv import now_us
from contrail.store.tables import observations, traces
from contrail.store.types import nanos_to_usd, unpack_json
from contrail.store.writer import WriteBatch, write_group

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerConfig:
    poll_seconds: float = 2.0
    lease_seconds: float = 300.0
    max_attempts: int = 3
    batch_size: int = 16
    settle_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> WorkerConfig:
        """From the server's Settings (``CONTRAIL_ONLINE_EVAL_*``)."""
        return cls(
            poll_seconds=settings.online_eval_poll_seconds,
            lease_seconds=settings.online_eval_lease_seconds,
            max_attempts=settings.online_eval_max_attempts,
            batch_size=settings.online_eval_batch_size,
            settle_seconds=settings.online_eval_settle_seconds,
        )


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OnlineEvalWorker:
    """Samples enabled rules and scores claimed jobs, every ``poll_seconds`` (at once when busy)."""

    def __init__(
        self,
        engine: Engine,
        config: WorkerConfig,
        *,
        clock: Callable[[], int] = now_us,
        name: str | None = None,
    ) -> None:
        self._engine = engine
        self.config = config
        self.name = name or worker_name()
        self._clock = clock
        self._scorers: dict[str, tuple[int, Scorer]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- running -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.run_forever, name="contrail-online-evals", daemon=True
            )
            self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to end after the jobs in hand (safe from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def run_forever(self) -> None:
        """Loop until ``stop()`` (or SIGTERM handling in the caller sets it)."""
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                busy = 0
                try:
                    busy = await self.run_once()
                except Exception:
                    # The worker must outlive a database hiccup; the next round tries again.
                    logger.warning("Online evaluation round failed; will retry", exc_info=True)
                if not busy:
                    await asyncio.to_thread(self._stop.wait, self.config.poll_seconds)
        finally:
            await self._close_scorers(list(self._scorers))

    async def run_once(self) -> int:
        """Sample every enabled rule, then claim and score one batch; returns how many jobs ran."""
        rules = {r.id: r for r in await asyncio.to_thread(list_rules, self._engine, enabled_only=True)}
        settle_us = int(self.config.settle_seconds * 1_000_000)
        for rule in rules.values():
            await asyncio.to_thread(
                sample_rule, self._engine, rule, now_us=self._clock(), settle_us=settle_us
            )
        await self._close_scorers([rule_id for rule_id in self._scorers if rule_id not in rules])
        if not await asyncio.to_thread(has_work, self._engine, self._clock()):
            return 0
        jobs = await asyncio.to_thread(
            claim,
            self._engine,
            worker=self.name,
            limit=self.config.batch_size,
            lease_us=int(self.config.lease_seconds * 1_000_000),
            max_attempts=self.config.max_attempts,
            now_us=self._clock(),
        )
        await asyncio.gather(*(self._run_job(job, rules.get(job.rule_id)) for job in jobs))
        return len(jobs)

    # --- one job -----------------------------------------------------------------------------------

    async def _run_job(self, job: Job, rule: Rule | None) -> None:
        try:
            error = await self._score_job(job, rule)
        except Exception as exc:
            logger.warning("Online evaluation job %s failed; it will be retried", job.id, exc_info=True)
            await self._finish(job, error=f"{type(exc).__name__}: {exc}", retry=True)
            return
        await self._finish(job, error=error)

    async def _score_job(self, job: Job, rule: Rule | None) -> str | None:
        """Score the job and write its score; returns the error that fails it, or None."""
        if rule is None:
            return "the rule was disabled or deleted before this job ran"
        case = await asyncio.to_thread(load_case, self._engine, job, rule)
        if case is None:
            what = "observation" if job.observation_id else "trace's root observation"
            return f"the {what} is no longer stored"
        result = await self._scorer(rule).score(case)
        if result.error is not None:
            return result.error if result.raw is None else f"{result.error}\n--- raw answer ---\n{result.raw}"
        if result.value is None and result.label is None and result.passed is None:
            return "the scorer returned neither a value nor a label"
        score = result_score(rule, job, result, self.name, self._clock())
        await asyncio.to_thread(
            write_group, self._engine, [WriteBatch(job.project_id, scores=[score])], self._clock()
        )
        return None

    async def _finish(self, job: Job, *, error: str | None, retry: bool = False) -> None:
        done = await asyncio.to_thread(
            finish, self._engine, job, worker=self.name, now_us=self._clock(), error=error, retry=retry
        )
        if not done:
            logger.info("Online evaluation job %s was re-claimed after its lease ran out", job.id)

    def _scorer(self, rule: Rule) -> Scorer:
        cached = self._scorers.get(rule.id)
        if cached is None or cached[0] != rule.updated_us:
            cached = (rule.updated_us, build_scorer(rule.scorer))
            self._scorers[rule.id] = cached
        return cached[1]

    async def _close_scorers(self, rule_ids: list[str]) -> None:
        for rule_id in rule_ids:
            _, scorer = self._scorers.pop(rule_id)
            aclose = getattr(scorer, "aclose", None)
            if callable(aclose):
                await aclose()


def load_case(engine: Engine, job: Job, rule: Rule) -> EvalCase | None:
    """What to score: the observation, or the trace's root observation with the trace's totals."""
    o = observations.c
    with engine.connect() as connection:
        trace = connection.execute(
            select(traces).where(traces.c.project_id == job.project_id, traces.c.trace_id == job.trace_id)
        ).first()
        span_id = job.observation_id or (trace.root_span_id if trace is not None else None)
        if trace is None or span_id is None:
            return None
        obs = connection.execute(
            select(observations).where(
                o.project_id == job.project_id, o.trace_id == job.trace_id, o.span_id == span_id
            )
        ).first()
    if obs is None:
        return None
    whole = rule.target == "trace"
    duration = trace.duration_us if whole else obs.duration_us
    cost = trace.total_cost_nanos if whole else obs.total_cost_nanos
    return EvalCase(
        input=unpack_json(obs.input),
        output=unpack_json(obs.output),
        metadata=(trace.metadata if whole else obs.metadata) or {},
        latency_seconds=None if duration is None else duration / 1_000_000,
        cost_usd=nanos_to_usd(cost),
        trace_id=job.trace_id,
    )


def result_score(rule: Rule, job: Job, result: ScoreResult, worker: str, at_us: int) -> Score:
    """The score a job writes: named after the rule, source EVAL, one id per (rule, trace, observation)."""
    key = f"{rule.id}\x00{job.trace_id}\x00{job.observation_id}".encode()
    if result.value is not None:
        value, kind = result.value, ScoreDataType.NUMERIC
    elif result.label is None and result.passed is not None:
        value, kind = (1.0 if result.passed else 0.0), ScoreDataType.BOOLEAN
    else:
        value, kind = None, ScoreDataType.CATEGORICAL
    return Score(
        id="online-" + hashlib.sha256(key).hexdigest()[:40],
        trace_id=job.trace_id,
        observation_id=job.observation_id or None,
        name=rule.name,
        timestamp_us=at_us,
        value=value,
        string_value=result.label,
        data_type=kind,
        source=ScoreSource.EVAL,
        comment=result.reason,
        metadata={"rule_id": rule.id, "job_id": job.id, "attempt": job.attempts, "worker": worker},
    )
