"""Judge calibration data: an experiment's judge scores paired with human labels on the same items.

The judge side is an experiment score (its label, else its value, else pass/fail; a scorer error is a
judge error that calibration skips and counts). The human side is, per item, a second score of the same
experiment when one has that name, else a score of that name on the item's trace that no evaluation wrote
(source ANNOTATION, API or SDK; annotations win over the others, then the newest). Items without a human
label are left out and counted. Every query is scoped to the caller's project.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from contrail.evals.datasets import DatasetError
from contrail.evals.experiments import _experiment_row
from contrail.schema.score import ScoreSource
from contrail.store.eval_tables import experiment_results, experiment_scores
from contrail.store.tables import scores

_CHUNK = 500
_TOP = 20
# Per-item numeric labels over this many distinct values make a confusion matrix nobody can read.
MAX_MATRIX_LABELS = 12


@dataclass(frozen=True, slots=True)
class Pairs:
    judge: dict[str, Any]  # item id -> label, or None for a judge error
    human: dict[str, Any]  # item id -> label
    trace_ids: dict[str, str | None]
    unlabelled: int  # judged items with no human label
    human_source: str  # "experiment", "traces" or "none"


def score_names(engine: Engine, project_id: str, experiment_id: str) -> dict[str, list[str]]:
    """Score names to pick from: the experiment's own, and the human ones on its items' traces."""
    s = experiment_scores.c
    with engine.connect() as connection:
        _experiment_row(connection, project_id, experiment_id)
        own = sorted(
            connection.execute(select(s.name).where(s.experiment_id == experiment_id).distinct()).scalars()
        )
        traces = _trace_ids(connection, experiment_id)
        names: set[str] = set()
        for chunk in _chunks(list({t for t in traces.values() if t})):
            query = select(scores.c.name).where(*_human_scores(project_id, chunk)).distinct()
            names.update(connection.execute(query).scalars())
    return {"experiment": own, "traces": sorted(names)}


def paired_scores(engine: Engine, project_id: str, experiment_id: str, judge: str, human: str) -> Pairs:
    """The judge's and the humans' labels per item (see the module docstring)."""
    if judge == human:
        raise DatasetError("invalid", "Pick two different score names: the judge's and the human labels'.")
    with engine.connect() as connection:
        _experiment_row(connection, project_id, experiment_id)
        traces = _trace_ids(connection, experiment_id)
        judged = _experiment_labels(connection, experiment_id, judge)
        if not judged:
            raise DatasetError("invalid", f"This experiment has no scores named {judge!r}.")
        labelled = _experiment_labels(connection, experiment_id, human)
        source = "experiment"
        if not labelled:
            source = "traces"
            labelled = _trace_labels(connection, project_id, traces, human)
    humans = {item: label for item, label in labelled.items() if label is not None and item in judged}
    return Pairs(
        judge={item: judged[item] for item in humans},
        human=humans,
        trace_ids={item: traces.get(item) for item in humans},
        unlabelled=len(judged.keys() - humans.keys()),
        human_source=source if humans else "none",
    )


def calibration(
    engine: Engine, project_id: str, experiment_id: str, judge: str, human: str
) -> dict[str, Any]:
    """Agreement of the ``judge`` score with the ``human`` labels on one experiment, as JSON.

    ``method`` names the headline figure: Spearman when both sides are numeric, else Cohen's kappa.
    Fewer than three items with both labels is a DatasetError explaining what is missing.
    """
    from contrail.evals.calibration import MIN_ITEMS, calibrate

    pairs = paired_scores(engine, project_id, experiment_id, judge, human)
    usable = sum(label is not None for label in pairs.judge.values())
    if usable < MIN_ITEMS:
        raise DatasetError(
            "invalid",
            f"Calibration needs at least {MIN_ITEMS} items scored by {judge!r} and labelled {human!r}; "
            f"found {usable} ({pairs.unlabelled} judged items have no human label, "
            f"{len(pairs.judge) - usable} judge errors).",
            {"pairs": usable, "unlabelled": pairs.unlabelled},
        )
    report = calibrate(pairs.judge, pairs.human, top_disagreements=_TOP)
    matrix = report.confusion
    return {
        "experiment_id": experiment_id,
        "judge": judge,
        "human": human,
        "human_source": pairs.human_source,
        "method": "spearman" if report.spearman is not None else "kappa",
        "n": report.n,
        "skipped_errors": report.skipped_errors,
        "unlabelled": pairs.unlabelled,
        "agreement": report.agreement,
        "kappa": report.kappa,
        "spearman": report.spearman,
        "spearman_p_value": report.spearman_p_value,
        "confusion": (
            {"labels": matrix.labels, "counts": matrix.counts}
            if len(matrix.labels) <= MAX_MATRIX_LABELS
            else None
        ),
        "disagreements": [
            {
                "item_id": d.item_id,
                "trace_id": pairs.trace_ids.get(d.item_id),
                "judge": d.judge,
                "human": d.human,
                "distance": d.distance,
            }
            for d in report.disagreements
        ],
    }


def _trace_ids(connection: Connection, experiment_id: str) -> dict[str, str | None]:
    r = experiment_results.c
    query = select(r.item_id, r.trace_id).where(r.experiment_id == experiment_id)
    return {item: trace for item, trace in connection.execute(query)}


def _experiment_labels(connection: Connection, experiment_id: str, name: str) -> dict[str, Any]:
    s = experiment_scores.c
    query = select(s.item_id, s.value, s.label, s.passed, s.error).where(
        s.experiment_id == experiment_id, s.name == name
    )
    found: dict[str, Any] = {}
    for item, value, label, passed, error in connection.execute(query):
        if error is not None:
            found[item] = None
        elif label is not None:
            found[item] = label
        elif value is not None:
            found[item] = value
        else:
            found[item] = passed
    return found


def _human_scores(project_id: str, trace_ids: list[str]) -> list[Any]:
    c = scores.c
    return [c.project_id == project_id, c.trace_id.in_(trace_ids), c.source != ScoreSource.EVAL.value]


def _trace_labels(
    connection: Connection, project_id: str, traces: dict[str, str | None], name: str
) -> dict[str, Any]:
    c = scores.c
    best: dict[str, tuple[tuple[bool, int], Any]] = {}
    for chunk in _chunks(list({t for t in traces.values() if t})):
        query = select(c.trace_id, c.value, c.string_value, c.data_type, c.source, c.timestamp_us).where(
            *_human_scores(project_id, chunk), c.name == name, c.observation_id.is_(None)
        )
        for trace, value, text, kind, source, at in connection.execute(query):
            rank = (source == ScoreSource.ANNOTATION.value, at)
            label = text if kind == "CATEGORICAL" or value is None else value
            if kind == "BOOLEAN" and value is not None:
                label = bool(value)
            if trace not in best or rank > best[trace][0]:
                best[trace] = (rank, label)
    return {item: best[trace][1] for item, trace in traces.items() if trace in best}


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
