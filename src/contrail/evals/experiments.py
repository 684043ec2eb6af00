"""Experiments: a named run of a target over one dataset version, with one result per item (output,
latency, cost, tokens, scores), summary aggregates and item-by-item comparison of two runs.

Every function is scoped to one project. Results are upserted by (experiment, item), so a resumed or
re-run item replaces its earlier result.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, Engine, and_, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from contrail.evals import datasets as ds
from contrail.evals.datasets import DatasetError, json_safe
from contrail.schema.ids import is_valid_trace_id, uuid7
from contrail.schema.score import Score, ScoreDataType, ScoreSource
from contrail.schema.timeconv import now_us, us_to_rfc3339
from contrail.store.database import writing
from contrail.store.eval_tables import datasets, experiment_results, experiment_scores, experiments
from contrail.store.pagination import Page, after_cursor, split_page
from contrail.store.types import nanos_to_usd, pack_json, unpack_json, usd_to_nanos

Status = Literal["running", "completed", "failed", "interrupted"]
MAX_RESULTS_PER_REQUEST = 10_000
_CHUNK = 500
_FINISHED = ("completed", "failed", "interrupted")


def _text(value: str | None) -> str | None:
    return None if value is None else json_safe(value)


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    dataset: str = Field(min_length=1, max_length=200)
    dataset_version: int | None = Field(default=None, ge=0)
    description: str | None = Field(default=None, max_length=10_000)
    target: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    resume: bool = False


class ScoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    value: float | None = None
    label: str | None = Field(default=None, max_length=1000)
    passed: bool | None = None
    reason: str | None = None
    error: str | None = None

    def number(self) -> float | None:
        """The numeric value; a pass/fail verdict counts as 1/0."""
        if self.value is not None:
            return self.value
        return None if self.passed is None else float(self.passed)


class ResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    item_id: str = Field(min_length=1, max_length=200)
    trace_id: str | None = None
    output: Any = None
    error: str | None = None
    latency_ms: float | None = Field(default=None, ge=0, le=1e12)
    cost_usd: Decimal | None = Field(default=None, ge=0, le=Decimal(1_000_000_000))
    input_tokens: int | None = Field(default=None, ge=0, le=2**62)
    output_tokens: int | None = Field(default=None, ge=0, le=2**62)
    scores: list[ScoreIn] = Field(default_factory=list, max_length=100)

    @field_validator("trace_id")
    @classmethod
    def _trace_id(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_trace_id(value.lower()):
            raise ValueError("must be 32 hex characters, not all zero")
        return None if value is None else value.lower()

    @field_validator("scores")
    @classmethod
    def _unique_scores(cls, value: list[ScoreIn]) -> list[ScoreIn]:
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError("each score name may appear once per result")
        return value


class ResultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    results: list[ResultIn] = Field(max_length=MAX_RESULTS_PER_REQUEST)


# --- experiments ---------------------------------------------------------------------------------


def create_experiment(engine: Engine, project_id: str, body: ExperimentIn) -> tuple[dict[str, Any], bool]:
    """A new running experiment on ``body.dataset`` (at its latest version unless given), and True; or,
    with ``resume``, the existing experiment of that name and False. DatasetError conflict otherwise."""
    now = now_us()
    try:
        with writing(engine).begin() as connection:
            dataset = ds.dataset_row(connection, project_id, body.dataset)
            existing = _by_name(connection, dataset["id"], body.name)
            if existing is not None:
                return _existing_or_conflict(existing, body), False
            version = dataset["version"] if body.dataset_version is None else body.dataset_version
            if version > dataset["version"]:
                raise DatasetError(
                    "invalid", f"Dataset {body.dataset!r} is at version {dataset['version']}, not {version}."
                )
            row = {
                "id": uuid7(),
                "project_id": project_id,
                "dataset_id": dataset["id"],
                "name": body.name,
                "description": _text(body.description),
                "dataset_version": version,
                "status": "running",
                "target": json_safe(body.target) or None,
                "metadata": json_safe(body.metadata) or None,
                "created_us": now,
                "updated_us": now,
                "finished_us": None,
            }
            connection.execute(insert(experiments).values(row))
    except IntegrityError:  # a concurrent create of the same name won
        with engine.connect() as connection:
            dataset = ds.dataset_row(connection, project_id, body.dataset)
            return _existing_or_conflict(_by_name(connection, dataset["id"], body.name), body), False
    return experiment_dict({**row, "dataset": body.dataset}), True


def _by_name(connection: Connection, dataset_id: str, name: str) -> Any:
    query = _with_dataset().where(experiments.c.dataset_id == dataset_id, experiments.c.name == name)
    return connection.execute(query).mappings().first()


def _existing_or_conflict(existing: Any, body: ExperimentIn) -> dict[str, Any]:
    if not body.resume:
        raise DatasetError(
            "conflict",
            f"Dataset {body.dataset!r} already has an experiment named {body.name!r}; "
            'pass "resume": true to continue it, or choose another name.',
        )
    return experiment_dict(existing)


def _with_dataset() -> Any:
    return select(experiments, datasets.c.name.label("dataset")).join(
        datasets, datasets.c.id == experiments.c.dataset_id
    )


def _experiment_row(connection: Connection, project_id: str, experiment_id: str) -> Any:
    row = (
        connection.execute(
            _with_dataset().where(experiments.c.project_id == project_id, experiments.c.id == experiment_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise DatasetError("not_found", f"No experiment {experiment_id!r} in this project.")
    return row


def get_experiment(engine: Engine, project_id: str, experiment_id: str) -> dict[str, Any]:
    """One experiment with its summary."""
    with engine.connect() as connection:
        row = _experiment_row(connection, project_id, experiment_id)
        return experiment_dict(row, _summary(connection, row))


def list_experiments(
    engine: Engine, project_id: str, *, dataset: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[dict[str, Any]]:
    """Newest first, optionally of one dataset (without summaries)."""
    query = _with_dataset().where(experiments.c.project_id == project_id)
    with engine.connect() as connection:
        if dataset is not None:
            query = query.where(
                experiments.c.dataset_id == ds.dataset_row(connection, project_id, dataset)["id"]
            )
        if cursor:
            query = query.where(after_cursor(experiments.c.created_us, experiments.c.id, cursor, True))
        order = (experiments.c.created_us.desc(), experiments.c.id.desc())
        rows = list(connection.execute(query.order_by(*order).limit(limit + 1)).mappings())
    rows, next_cursor = split_page(rows, limit, "created_us", "id")
    return Page([experiment_dict(r) for r in rows], next_cursor)


def set_status(engine: Engine, project_id: str, experiment_id: str, status: Status) -> dict[str, Any]:
    """Mark an experiment running again, or finished (completed, failed, interrupted)."""
    now = now_us()
    with writing(engine).begin() as connection:
        _experiment_row(connection, project_id, experiment_id)
        connection.execute(
            update(experiments)
            .where(experiments.c.id == experiment_id)
            .values(status=status, updated_us=now, finished_us=now if status in _FINISHED else None)
        )
        row = _experiment_row(connection, project_id, experiment_id)
        return experiment_dict(row, _summary(connection, row))


def experiment_dict(row: Any, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "dataset": row["dataset"],
        "dataset_version": row["dataset_version"],
        "description": row["description"],
        "status": row["status"],
        "target": row["target"] or {},
        "metadata": row["metadata"] or {},
        "created_at": us_to_rfc3339(row["created_us"]),
        "updated_at": us_to_rfc3339(row["updated_us"]),
        "finished_at": us_to_rfc3339(row["finished_us"]),
        "summary": summary,
    }


def _summary(connection: Connection, row: Any) -> dict[str, Any]:
    r = experiment_results.c
    totals = connection.execute(
        select(
            func.count(),
            func.count(r.error),
            func.sum(r.cost_nanos),
            func.sum(r.input_tokens),
            func.sum(r.output_tokens),
        ).where(r.experiment_id == row["id"])
    ).one()
    count, errors, cost_nanos, input_tokens, output_tokens = totals
    dataset = connection.execute(select(datasets).where(datasets.c.id == row["dataset_id"])).mappings().one()
    p50, p95 = _latency_percentiles(connection, row["id"], int(count))
    return {
        "items": ds.count_items(connection, dataset, row["dataset_version"]),
        "results": int(count),
        "completed": int(count) - int(errors),
        "errors": int(errors),
        "scores": _score_summary(connection, row["id"]),
        "latency_p50_ms": p50,
        "latency_p95_ms": p95,
        "cost_usd_total": _usd(nanos_to_usd(int(cost_nanos or 0))),
        "input_tokens_total": int(input_tokens or 0),
        "output_tokens_total": int(output_tokens or 0),
    }


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _score_summary(connection: Connection, experiment_id: str) -> dict[str, dict[str, Any]]:
    s = experiment_scores.c
    number = case((s.value.is_not(None), s.value), (s.passed.is_(True), 1.0), (s.passed.is_(False), 0.0))
    rows = connection.execute(
        select(s.name, func.avg(number), func.count(number), func.count(s.error))
        .where(s.experiment_id == experiment_id)
        .group_by(s.name)
        .order_by(s.name)
    )
    return {
        name: {"mean": None if mean is None else float(mean), "n": int(n), "errors": int(errors)}
        for name, mean, n, errors in rows
    }


def _latency_percentiles(connection: Connection, experiment_id: str, count: int) -> tuple[float | None, ...]:
    """Nearest-rank p50 and p95 in ms (the value at rank ceil(p * n / 100))."""
    r = experiment_results.c
    n = connection.execute(
        select(func.count(r.latency_us)).where(r.experiment_id == experiment_id)
    ).scalar_one()
    if not count or not n:
        return None, None
    values = []
    for p in (50, 95):
        rank = max(1, math.ceil(p * n / 100))
        value = connection.execute(
            select(r.latency_us)
            .where(r.experiment_id == experiment_id, r.latency_us.is_not(None))
            .order_by(r.latency_us)
            .offset(rank - 1)
            .limit(1)
        ).scalar_one()
        values.append(value / 1000)
    return tuple(values)


# --- results -------------------------------------------------------------------------------------


def write_results(
    engine: Engine, project_id: str, experiment_id: str, results: Sequence[ResultIn]
) -> list[Score]:
    """Store (replace) the results of these items and their scores. DatasetError invalid names item ids
    that are not in the experiment's dataset version, or that appear twice. Returns the scores to record
    on the traces the results name (source EVAL, ids stable per experiment, item and scorer)."""
    ids = [r.item_id for r in results]
    duplicates = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if duplicates:
        raise DatasetError("invalid", f"Items given more than once: {', '.join(duplicates[:10])}.")
    now = now_us()
    with writing(engine).begin() as connection:
        experiment = _experiment_row(connection, project_id, experiment_id)
        known = ds.items_as_of(connection, experiment["dataset_id"], ids, experiment["dataset_version"])
        unknown = [i for i in ids if i not in known or known[i]["status"] != "active"]
        if unknown:
            raise DatasetError(
                "invalid",
                f"{len(unknown)} item(s) are not in dataset {experiment['dataset']!r} at version "
                f"{experiment['dataset_version']}: {', '.join(unknown[:10])}",
                {"unknown_item_ids": unknown[:100]},
            )
        _replace(connection, experiment_id, ids, results, now)
        connection.execute(
            update(experiments).where(experiments.c.id == experiment_id).values(updated_us=now)
        )
    return [score for r in results for score in _trace_scores(experiment, r, now)]


def _replace(
    connection: Connection, experiment_id: str, ids: list[str], results: Sequence[ResultIn], now: int
) -> None:
    for table in (experiment_results, experiment_scores):
        for start in range(0, len(ids), _CHUNK):
            connection.execute(
                delete(table).where(
                    table.c.experiment_id == experiment_id, table.c.item_id.in_(ids[start : start + _CHUNK])
                )
            )
    if not results:
        return
    connection.execute(insert(experiment_results), [_result_row(experiment_id, r, now) for r in results])
    score_rows = [
        {
            "experiment_id": experiment_id,
            "item_id": r.item_id,
            "name": s.name,
            "value": s.value,
            "label": _text(s.label),
            "passed": s.passed,
            "reason": _text(s.reason),
            "error": _text(s.error),
        }
        for r in results
        for s in r.scores
    ]
    if score_rows:
        connection.execute(insert(experiment_scores), score_rows)


def _result_row(experiment_id: str, result: ResultIn, now: int) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "item_id": result.item_id,
        "trace_id": result.trace_id,
        "output": pack_json(result.output),
        "error": _text(result.error),
        "latency_us": None if result.latency_ms is None else round(result.latency_ms * 1000),
        "cost_nanos": usd_to_nanos(result.cost_usd),
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "created_us": now,
        "updated_us": now,
    }


def _trace_scores(experiment: Any, result: ResultIn, now: int) -> list[Score]:
    if result.trace_id is None:
        return []
    scores = []
    for s in result.scores:
        if s.error is not None or (s.number() is None and s.label is None):
            continue  # the scores table has no "could not decide"; the experiment keeps the error
        key = f"{experiment['id']}\x00{result.item_id}\x00{s.name}".encode()
        kind = ScoreDataType.NUMERIC if s.value is not None else ScoreDataType.BOOLEAN
        scores.append(
            Score(
                id="eval-" + hashlib.sha256(key).hexdigest()[:40],
                trace_id=result.trace_id,
                name=s.name,
                timestamp_us=now,
                value=s.number(),
                string_value=_text(s.label),
                data_type=kind if s.number() is not None else ScoreDataType.CATEGORICAL,
                source=ScoreSource.EVAL,
                comment=_text(s.reason),
                metadata={
                    "experiment_id": experiment["id"],
                    "experiment": experiment["name"],
                    "item_id": result.item_id,
                },
            )
        )
    return scores


def list_results(
    engine: Engine, project_id: str, experiment_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page[dict[str, Any]]:
    """Results by item id, with each item's input and expected output as of the experiment's version."""
    r = experiment_results.c
    with engine.connect() as connection:
        experiment = _experiment_row(connection, project_id, experiment_id)
        query = select(experiment_results).where(r.experiment_id == experiment_id)
        if cursor:
            query = query.where(after_cursor(r.item_id, r.item_id, cursor, False))
        rows = list(connection.execute(query.order_by(r.item_id).limit(limit + 1)).mappings())
        rows, next_cursor = split_page(rows, limit, "item_id", "item_id")
        ids = [row["item_id"] for row in rows]
        items = ds.items_as_of(connection, experiment["dataset_id"], ids, experiment["dataset_version"])
        scores = _scores_of(connection, experiment_id, ids)
    return Page(
        [_result_dict(row, items.get(row["item_id"]), scores.get(row["item_id"], [])) for row in rows],
        next_cursor,
    )


def _scores_of(connection: Connection, experiment_id: str, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    s = experiment_scores.c
    found: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return found
    query = (
        select(experiment_scores).where(s.experiment_id == experiment_id, s.item_id.in_(ids)).order_by(s.name)
    )
    for row in connection.execute(query).mappings():
        score = {k: row[k] for k in ("name", "value", "label", "passed", "reason", "error")}
        found.setdefault(row["item_id"], []).append(score)
    return found


def _result_dict(row: Any, item: Any, scores: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "item_id": row["item_id"],
        "input": None if item is None else unpack_json(item["input"]),
        "expected_output": None if item is None else unpack_json(item["expected_output"]),
        "trace_id": row["trace_id"],
        "output": unpack_json(row["output"]),
        "error": row["error"],
        "latency_ms": None if row["latency_us"] is None else row["latency_us"] / 1000,
        "cost_usd": _usd(nanos_to_usd(row["cost_nanos"])),
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "scores": scores,
        "created_at": us_to_rfc3339(row["created_us"]),
        "updated_at": us_to_rfc3339(row["updated_us"]),
    }


# --- comparison ----------------------------------------------------------------------------------


def compare_experiments(
    engine: Engine, project_id: str, baseline_id: str, candidate_id: str, metric: str | None = None
) -> dict[str, Any]:
    """Item-by-item comparison of two experiments on one dataset (``stats.compare``): per metric the
    mean difference, bootstrap 95% interval, paired test p-value, significance and regressed items."""
    from contrail.evals import stats  # numpy: only when comparing

    if baseline_id == candidate_id:
        raise DatasetError("invalid", "baseline and candidate are the same experiment.")
    with engine.connect() as connection:
        baseline = _experiment_row(connection, project_id, baseline_id)
        candidate = _experiment_row(connection, project_id, candidate_id)
        if baseline["dataset_id"] != candidate["dataset_id"]:
            raise DatasetError(
                "invalid",
                f"The experiments ran on different datasets ({baseline['dataset']!r}, "
                f"{candidate['dataset']!r}); items pair by id within one dataset.",
            )
        base_scores = _numeric_scores(connection, baseline_id)
        cand_scores = _numeric_scores(connection, candidate_id)
    names = {n for scores in (base_scores, cand_scores) for item in scores.values() for n in item}
    if metric is not None and metric not in names:
        raise DatasetError(
            "invalid", f"Neither experiment has scores named {metric!r}.", {"metrics": sorted(names)}
        )
    comparison = stats.compare(base_scores, cand_scores, metrics=None if metric is None else [metric])
    return {"baseline": baseline_id, "candidate": candidate_id, **comparison.to_dict()}


def _numeric_scores(connection: Connection, experiment_id: str) -> dict[str, dict[str, float | None]]:
    """item id -> metric -> number (None for a scorer error); label-only scores are not numeric."""
    s = experiment_scores.c
    rows = connection.execute(
        select(s.item_id, s.name, s.value, s.passed, s.error).where(
            s.experiment_id == experiment_id,
            and_(s.value.is_not(None) | s.passed.is_not(None) | s.error.is_not(None)),
        )
    )
    found: dict[str, dict[str, float | None]] = {}
    for item_id, name, value, passed, error in rows:
        number = value if value is not None else (None if passed is None else float(passed))
        found.setdefault(item_id, {})[name] = None if error is not None else number
    return found
