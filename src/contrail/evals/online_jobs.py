"""The online-evaluation job queue: the sampler that fills it and the claims that drain it.

Sampling is off the ingest path: ``sample_rule`` reads observations that arrived after the rule's
watermark (an ``observations.id``), stops at the first one younger than ``settle_us`` (so a trace's
root has usually landed, and a commit still in flight on another PostgreSQL writer is not skipped),
applies the rule's filter and sampling, and inserts jobs; UNIQUE (rule, trace, observation) makes
a job exist once however many samplers run. Workers ``claim`` jobs with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, and inside a ``BEGIN IMMEDIATE`` transaction (the single writer) on SQLite. A claim holds
a lease; a job whose worker died is claimed again when its lease ends, until ``max_attempts``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from contrail.evals.online import Rule, sampled
from contrail.schema.ids import uuid7
from contrail.schema.timeconv import us_to_rfc3339
from contrail.store.database import writing
from contrail.store.eval_tables import eval_jobs, eval_rules
from contrail.store.filters import observation_conditions, trace_conditions
from contrail.store.tables import observations, traces

STATUSES = ("pending", "running", "done", "failed")
_CHUNK = 500
_ERROR_CHARS = 4000


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    id: str
    project_id: str
    rule_id: str
    trace_id: str
    observation_id: str
    attempts: int


def sample_rule(engine: Engine, rule: Rule, *, now_us: int, settle_us: int, scan_limit: int = 5000) -> int:
    """Enqueue jobs for what arrived since the rule's watermark; returns how many were new."""
    o = observations.c
    # Built before reading: a full-text filter first indexes waiting documents (store.search).
    flt = rule.filter.to_filter()
    if rule.target == "trace":
        conditions = trace_conditions(traces, flt, rule.project_id, engine)
    else:
        conditions = observation_conditions(observations, flt, rule.project_id, engine)
    with engine.connect() as connection:
        rows = connection.execute(
            select(o.id, o.trace_id, o.ingested_us)
            .where(o.id > rule.watermark_id, o.project_id == rule.project_id)
            .order_by(o.id)
            .limit(scan_limit)
        ).all()
        settled = _settled_prefix(rows, now_us - settle_us)
        if not settled:
            return 0
        if rule.target == "trace":
            keys = _matching_traces(connection, conditions, {r.trace_id for r in settled})
        else:
            keys = _matching_observations(connection, conditions, [r.id for r in settled])
    keys = [(t, s) for t, s in keys if sampled(t, rule.sampling_percent)]
    return _enqueue(engine, rule, keys, settled[-1].id, now_us)


def _settled_prefix(rows: Sequence[Any], cutoff_us: int) -> list[Any]:
    for index, row in enumerate(rows):
        if row.ingested_us > cutoff_us:
            return list(rows[:index])
    return list(rows)


def _matching_traces(
    connection: Connection, conditions: list[ColumnElement[bool]], trace_ids: set[str]
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for chunk in _chunks(sorted(trace_ids)):
        # A trace without its root yet is left for later: the root arriving is a new observation.
        query = select(traces.c.trace_id).where(
            *conditions, traces.c.trace_id.in_(chunk), traces.c.root_span_id.is_not(None)
        )
        found.extend((trace_id, "") for trace_id in connection.execute(query).scalars())
    return found


def _matching_observations(
    connection: Connection, conditions: list[ColumnElement[bool]], ids: list[int]
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for chunk in _chunks(ids):
        query = select(observations.c.trace_id, observations.c.span_id).where(
            *conditions, observations.c.id.in_(chunk)
        )
        found.extend((r.trace_id, r.span_id) for r in connection.execute(query))
    return found


def _enqueue(engine: Engine, rule: Rule, keys: list[tuple[str, str]], watermark: int, now_us: int) -> int:
    new = 0
    with writing(engine).begin() as connection:
        if keys:
            insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            rows = [_job_row(rule, trace_id, span_id, now_us) for trace_id, span_id in keys]
            for chunk in _chunks(rows):
                statement = (
                    insert(eval_jobs)
                    .values(list(chunk))
                    .on_conflict_do_nothing(index_elements=["rule_id", "trace_id", "observation_id"])
                    .returning(eval_jobs.c.id)
                )
                new += len(connection.execute(statement).all())
        # Monotonic, so two samplers racing on one rule never move it back.
        connection.execute(
            update(eval_rules)
            .where(eval_rules.c.id == rule.id, eval_rules.c.watermark_id < watermark)
            .values(watermark_id=watermark)
        )
    return new


def _job_row(rule: Rule, trace_id: str, span_id: str, now_us: int) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "project_id": rule.project_id,
        "rule_id": rule.id,
        "trace_id": trace_id,
        "observation_id": span_id,
        "status": "pending",
        "attempts": 0,
        "created_us": now_us,
        "updated_us": now_us,
    }


def _claimable(now_us: int) -> Any:
    j = eval_jobs.c
    return or_(j.status == "pending", and_(j.status == "running", j.lease_until_us < now_us))


def has_work(engine: Engine, now_us: int) -> bool:
    """A cheap read, so idle workers never take SQLite's write lock."""
    with engine.connect() as connection:
        return (
            connection.execute(select(eval_jobs.c.id).where(_claimable(now_us)).limit(1)).first() is not None
        )


def claim(
    engine: Engine, *, worker: str, limit: int, lease_us: int, max_attempts: int, now_us: int
) -> list[Job]:
    """Lease up to ``limit`` pending (or lease-expired) jobs to ``worker``, oldest first.

    Jobs whose lease ran out after ``max_attempts`` claims are marked failed instead.
    """
    j = eval_jobs.c
    with writing(engine).begin() as connection:
        connection.execute(
            update(eval_jobs)
            .where(j.status == "running", j.lease_until_us < now_us, j.attempts >= max_attempts)
            .values(
                status="failed",
                last_error=f"gave up: the worker stopped or timed out on each of {max_attempts} attempts",
                updated_us=now_us,
            )
        )
        candidates = select(j.id).where(_claimable(now_us)).order_by(j.created_us, j.id).limit(limit)
        if connection.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        rows = connection.execute(
            update(eval_jobs)
            .where(j.id.in_(candidates.scalar_subquery()))
            .values(
                status="running",
                attempts=j.attempts + 1,
                lease_until_us=now_us + lease_us,
                worker=worker[:100],
                updated_us=now_us,
            )
            .returning(j.id, j.project_id, j.rule_id, j.trace_id, j.observation_id, j.attempts)
        ).all()
    return [Job(*row) for row in rows]


def finish(
    engine: Engine, job: Job, *, worker: str, now_us: int, error: str | None = None, retry: bool = False
) -> bool:
    """Record a claimed job's outcome: done, failed with ``error``, or back to pending (``retry``).

    Only the current holder of the claim can finish it; returns False when the lease was lost (another
    worker re-claimed the job, whose score then has the same id and replaces this one).
    """
    j = eval_jobs.c
    status = "pending" if retry else ("failed" if error is not None else "done")
    with writing(engine).begin() as connection:
        changed = connection.execute(
            update(eval_jobs)
            .where(
                j.id == job.id, j.status == "running", j.attempts == job.attempts, j.worker == worker[:100]
            )
            .values(
                status=status,
                last_error=None if error is None else error[:_ERROR_CHARS],
                lease_until_us=None,
                updated_us=now_us,
            )
            .returning(j.id)
        ).first()
    return changed is not None


def list_jobs(
    engine: Engine, project_id: str, rule_id: str, *, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """A rule's newest jobs (optionally of one status), for the API and the UI."""
    j = eval_jobs.c
    query = select(eval_jobs).where(j.project_id == project_id, j.rule_id == rule_id)
    if status is not None:
        query = query.where(j.status == status)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(j.created_us.desc(), j.id.desc()).limit(limit)).all()
    return [_job_dict(r) for r in rows]


def job_counts(engine: Engine, project_id: str) -> dict[str, dict[str, int]]:
    """Per rule id, how many of its jobs are in each status."""
    j = eval_jobs.c
    query = (
        select(j.rule_id, j.status, func.count())
        .where(j.project_id == project_id)
        .group_by(j.rule_id, j.status)
    )
    counts: dict[str, dict[str, int]] = {}
    with engine.connect() as connection:
        for rule_id, status, count in connection.execute(query):
            counts.setdefault(rule_id, dict.fromkeys(STATUSES, 0))[status] = count
    return counts


def _job_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "trace_id": row.trace_id,
        "observation_id": row.observation_id or None,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": us_to_rfc3339(row.created_us),
        "updated_at": us_to_rfc3339(row.updated_us),
    }


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
