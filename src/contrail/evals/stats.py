"""Comparing two experiments item by item, and the quality/cost/latency Pareto front.

``compare(baseline, candidate)`` pairs the two runs by item id and, per metric, reports the paired mean
difference with a seeded bootstrap 95% interval, a paired t-test and a Wilcoxon signed-rank p-value,
whether the difference is significant, and the items that regressed, worst first. Items present on one
side only, and scores that are errors (None, NaN, a ScoreResult with ``error``), are skipped and counted,
never treated as zeros.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from contrail.evals.base import ScoreResult
from contrail.evals.significance import bootstrap_mean_ci, paired_t_test, wilcoxon_signed_rank

ScoreValue = float | int | Decimal | bool | ScoreResult | None
ItemScores = ScoreValue | Mapping[str, ScoreValue]
DEFAULT_METRIC = "score"
Test = Literal["t", "wilcoxon"]


@dataclass(frozen=True, slots=True)
class ItemChange:
    """One item's score in both runs; ``change`` is signed so that negative means worse."""

    item_id: str
    baseline: float
    candidate: float
    change: float


@dataclass(frozen=True, slots=True)
class MetricComparison:
    """One metric's row of the comparison table (means and difference over the paired items)."""

    metric: str
    higher_is_better: bool
    confidence: float
    test: Test
    n_paired: int
    baseline_only: int
    candidate_only: int
    baseline_errors: int
    candidate_errors: int
    baseline_mean: float | None = None
    candidate_mean: float | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_value_t: float | None = None
    p_value_wilcoxon: float | None = None
    significant: bool = False
    # "improved", "regressed" or "unchanged" (not significant, or too few pairs to tell).
    verdict: str = "unchanged"
    regressed_items: list[ItemChange] = field(default_factory=list)
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Comparison:
    """The per-metric table; ``regressions`` lists the metrics that got significantly worse."""

    metrics: list[MetricComparison]

    @property
    def regressions(self) -> list[MetricComparison]:
        return [m for m in self.metrics if m.verdict == "regressed"]

    def metric(self, name: str) -> MetricComparison:
        for row in self.metrics:
            if row.metric == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": [m.to_dict() for m in self.metrics],
            "regressed": [m.metric for m in self.regressions],
        }


def score_value(value: ScoreValue) -> float | None:
    """A usable number, or None for an error (None, NaN/inf, a failed ScoreResult, a label-only result)."""
    if isinstance(value, ScoreResult):
        value = value.value if value.ok else None
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"a score must be a number, bool, ScoreResult or None, not {type(value).__name__}")
    number = float(value)
    return number if math.isfinite(number) else None


def _metrics_of(scores: ItemScores) -> Mapping[str, ScoreValue]:
    return scores if isinstance(scores, Mapping) else {DEFAULT_METRIC: scores}


def _split(run: Mapping[str, ItemScores], metric: str) -> tuple[dict[str, float], set[str]]:
    """Values of ``metric`` by item id, and the ids where it is an error."""
    values: dict[str, float] = {}
    errors: set[str] = set()
    for item_id, scores in run.items():
        metrics = _metrics_of(scores)
        if metric not in metrics:
            continue
        value = score_value(metrics[metric])
        if value is None:
            errors.add(str(item_id))
        else:
            values[str(item_id)] = value
    return values, errors


def compare(
    baseline: Mapping[str, ItemScores],
    candidate: Mapping[str, ItemScores],
    *,
    metrics: Sequence[str] | None = None,
    higher_is_better: bool | Mapping[str, bool] = True,
    alpha: float = 0.05,
    test: Test = "t",
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Compare two runs keyed by item id.

    Each value is one score (number, bool, ScoreResult or None) for a single metric named ``"score"``,
    or a mapping of metric name to score. ``metrics`` restricts and orders the metrics (default: every
    metric seen, sorted). ``test`` picks the p-value that decides significance (``p < alpha``); both are
    reported. Raises ValueError for bad options or non-numeric scores.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError("alpha must be between 0 and 1")
    if test not in ("t", "wilcoxon"):
        raise ValueError("test must be 't' or 'wilcoxon'")
    names = list(metrics) if metrics is not None else _all_metrics(baseline, candidate)
    rows = []
    for name in names:
        better_up = (
            higher_is_better if isinstance(higher_is_better, bool) else higher_is_better.get(name, True)
        )
        rows.append(
            compare_metric(
                baseline,
                candidate,
                name,
                higher_is_better=better_up,
                alpha=alpha,
                test=test,
                confidence=confidence,
                n_resamples=n_resamples,
                seed=seed,
            )
        )
    return Comparison(rows)


def _all_metrics(*runs: Mapping[str, ItemScores]) -> list[str]:
    return sorted({name for run in runs for scores in run.values() for name in _metrics_of(scores)})


def compare_metric(
    baseline: Mapping[str, ItemScores],
    candidate: Mapping[str, ItemScores],
    metric: str = DEFAULT_METRIC,
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    test: Test = "t",
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricComparison:
    """One metric's row of :func:`compare`."""
    base, base_errors = _split(baseline, metric)
    cand, cand_errors = _split(candidate, metric)
    paired = sorted(base.keys() & cand.keys())
    base_ids, cand_ids = base.keys() | base_errors, cand.keys() | cand_errors
    row = MetricComparison(
        metric=metric,
        higher_is_better=higher_is_better,
        confidence=confidence,
        test=test,
        n_paired=len(paired),
        baseline_only=len(base_ids - cand_ids),
        candidate_only=len(cand_ids - base_ids),
        baseline_errors=len(base_errors),
        candidate_errors=len(cand_errors),
    )
    if not paired:
        return replace(row, note="no item has a valid score in both runs")
    diffs = [cand[i] - base[i] for i in paired]
    sign = 1.0 if higher_is_better else -1.0
    changes = [ItemChange(i, base[i], cand[i], sign * d) for i, d in zip(paired, diffs, strict=True)]
    diff = math.fsum(diffs) / len(diffs)
    row = replace(
        row,
        baseline_mean=math.fsum(base[i] for i in paired) / len(paired),
        candidate_mean=math.fsum(cand[i] for i in paired) / len(paired),
        diff=diff,
        regressed_items=sorted((c for c in changes if c.change < 0), key=lambda c: (c.change, c.item_id)),
    )
    if len(paired) < 2:
        return replace(row, note="too few paired items for a test (need 2)")
    ci_low, ci_high = bootstrap_mean_ci(diffs, confidence=confidence, n_resamples=n_resamples, seed=seed)
    p_t = paired_t_test(diffs).p_value
    p_w = wilcoxon_signed_rank(diffs).p_value
    p_value = p_t if test == "t" else p_w
    significant = p_value < alpha and diff != 0
    return replace(
        row,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        p_value_t=p_t,
        p_value_wilcoxon=p_w,
        significant=significant,
        verdict="unchanged" if not significant else ("improved" if sign * diff > 0 else "regressed"),
    )


# --- Pareto front ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParetoResult:
    """Which options are on the front, who dominates the others, and which could not be compared."""

    front: list[str]
    dominated_by: dict[str, list[str]]
    skipped: dict[str, str]


def pareto_front(
    rows: Mapping[str, Mapping[str, float | int | Decimal | None]], objectives: Mapping[str, str]
) -> ParetoResult:
    """The options (models, prompt versions...) not dominated on ``objectives``.

    ``objectives`` maps a column to ``"max"`` or ``"min"``, e.g. ``{"quality": "max", "cost_usd": "min",
    "latency_p95_s": "min"}``. An option is dominated when another is at least as good on every
    objective and strictly better on one. Options missing an objective (or with NaN) are skipped with
    the reason. Raises ValueError for no objectives or a direction other than max/min.
    """
    if not objectives:
        raise ValueError("pareto_front needs at least one objective")
    for column, direction in objectives.items():
        if direction not in ("max", "min"):
            raise ValueError(f"objective {column!r} must be 'max' or 'min', not {direction!r}")
    points: dict[str, list[float]] = {}
    skipped: dict[str, str] = {}
    for name, row in rows.items():
        vector = _pareto_vector(row, objectives)
        if isinstance(vector, str):
            skipped[name] = vector
        else:
            points[name] = vector
    dominated_by = {
        name: sorted(other for other, theirs in points.items() if other != name and _dominates(theirs, mine))
        for name, mine in points.items()
    }
    front = sorted(name for name, by in dominated_by.items() if not by)
    return ParetoResult(front, {k: v for k, v in dominated_by.items() if v}, skipped)


def _pareto_vector(row: Mapping[str, Any], objectives: Mapping[str, str]) -> list[float] | str:
    """Values oriented so that larger is better, or the reason the row cannot be placed."""
    vector = []
    for column, direction in objectives.items():
        raw = row.get(column)
        if raw is None or isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
            return f"no numeric {column!r}"
        value = float(raw)
        if not math.isfinite(value):
            return f"{column!r} is not finite"
        vector.append(value if direction == "max" else -value)
    return vector


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))
