"""Judge calibration: how far an LLM judge agrees with human labels on the same items.

``calibrate(judge, human)`` takes two mappings of item id → label or score and reports Cohen's kappa
(optionally weighted, for ordered labels), Spearman's rank correlation (numeric scores), the confusion
matrix and the items where the two disagree most. The id sets must match exactly (a mismatch is a
ValueError naming the ids), so a silently smaller sample can't pass as agreement; judge errors (None or
a failed ScoreResult) are skipped and counted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from contrail.evals.base import ScoreResult
from contrail.evals.significance import spearman_rho

Label = str | int | float | bool | Decimal
Weights = Literal["linear", "quadratic"]
MIN_ITEMS = 3
_SHOWN_IDS = 5


@dataclass(frozen=True, slots=True)
class ConfusionMatrix:
    """``counts[i][j]``: items the humans labelled ``labels[i]`` and the judge ``labels[j]``."""

    labels: list[str]
    counts: list[list[int]]

    def count(self, human: str, judge: str) -> int:
        return self.counts[self.labels.index(human)][self.labels.index(judge)]


@dataclass(frozen=True, slots=True)
class Disagreement:
    item_id: str
    judge: str
    human: str
    # |judge - human| for numeric labels, 1.0 for a categorical mismatch.
    distance: float


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    n: int
    skipped_errors: int
    agreement: float
    kappa: float
    weighted_kappa: float | None
    spearman: float | None
    spearman_p_value: float | None
    confusion: ConfusionMatrix
    disagreements: list[Disagreement] = field(default_factory=list)


def _label(value: Any) -> Label | None:
    if isinstance(value, ScoreResult):
        if not value.ok:
            return None
        value = value.label if value.label is not None else value.value
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not isinstance(value, (str, int, float, bool, Decimal)):
        raise ValueError(f"a label must be a string, number or ScoreResult, not {type(value).__name__}")
    return value


def _key(value: Label) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, Decimal)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _number(value: Label) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return None


def paired_labels(
    judge: Mapping[str, Any], human: Mapping[str, Any]
) -> tuple[list[tuple[str, Label, Label]], int]:
    """(item id, judge label, human label) for every item, and how many judge errors were skipped.

    Raises ValueError when the two sets of ids differ, when a human label is missing, or when fewer
    than ``MIN_ITEMS`` items remain.
    """
    only_judge, only_human = sorted(judge.keys() - human.keys()), sorted(human.keys() - judge.keys())
    if only_judge or only_human:
        raise ValueError(
            f"judge and human labels must cover the same items: {len(only_judge)} only judged "
            f"({', '.join(map(str, only_judge[:_SHOWN_IDS]))}), {len(only_human)} only labelled by humans "
            f"({', '.join(map(str, only_human[:_SHOWN_IDS]))})"
        )
    pairs, skipped = [], 0
    for item_id in sorted(judge):
        human_label = _label(human[item_id])
        if human_label is None:
            raise ValueError(f"item {item_id!r} has no human label")
        judge_label = _label(judge[item_id])
        if judge_label is None:
            skipped += 1
            continue
        pairs.append((str(item_id), judge_label, human_label))
    if len(pairs) < MIN_ITEMS:
        raise ValueError(f"calibration needs at least {MIN_ITEMS} items with both labels, got {len(pairs)}")
    return pairs, skipped


def confusion_matrix(
    judge: Sequence[str], human: Sequence[str], labels: Sequence[str] | None = None
) -> ConfusionMatrix:
    """Counts of (human label, judge label); ``labels`` fixes the order (default: sorted, numbers first)."""
    ordered = list(labels) if labels is not None else _sorted_labels({*judge, *human})
    unknown = sorted({*judge, *human} - set(ordered))
    if unknown:
        raise ValueError(f"labels {unknown} are not in the given label list {ordered}")
    index = {label: i for i, label in enumerate(ordered)}
    counts = [[0] * len(ordered) for _ in ordered]
    for j, h in zip(judge, human, strict=True):
        counts[index[h]][index[j]] += 1
    return ConfusionMatrix(ordered, counts)


def _sorted_labels(labels: set[str]) -> list[str]:
    numeric = [label for label in labels if _number(label) is not None]
    if len(numeric) == len(labels):
        return sorted(labels, key=lambda label: float(label))
    return sorted(labels)


def cohens_kappa(matrix: ConfusionMatrix, weights: Weights | None = None) -> float:
    """Cohen's kappa from a confusion matrix; ``weights`` treats the label order as a scale.

    1.0 is perfect agreement, 0.0 what chance alone gives. When both raters used a single identical
    label throughout, kappa is undefined; this returns 1.0 (they agree on everything) instead of NaN.
    """
    k = len(matrix.labels)
    n = sum(map(sum, matrix.counts))
    if n == 0:
        raise ValueError("kappa needs at least one item")
    rows = [sum(r) / n for r in matrix.counts]
    cols = [sum(matrix.counts[i][j] for i in range(k)) / n for j in range(k)]

    def penalty(i: int, j: int) -> float:
        if weights is None:
            return 0.0 if i == j else 1.0
        distance = abs(i - j) / max(1, k - 1)
        return distance if weights == "linear" else distance**2

    observed = sum(penalty(i, j) * matrix.counts[i][j] / n for i in range(k) for j in range(k))
    expected = sum(penalty(i, j) * rows[i] * cols[j] for i in range(k) for j in range(k))
    if expected == 0.0:
        return 1.0
    return 1.0 - observed / expected


def calibrate(
    judge: Mapping[str, Any],
    human: Mapping[str, Any],
    *,
    labels: Sequence[str] | None = None,
    weights: Weights | None = None,
    top_disagreements: int = 20,
) -> CalibrationReport:
    """Agreement between judge and human labels on the same items (see the module docstring).

    Labels may be strings, numbers, booleans or ScoreResults (their label, else their value). Spearman is
    reported when every label on both sides is numeric and neither side is constant.
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError("weights must be None, 'linear' or 'quadratic'")
    pairs, skipped = paired_labels(judge, human)
    judge_keys = [_key(j) for _, j, _ in pairs]
    human_keys = [_key(h) for _, _, h in pairs]
    matrix = confusion_matrix(judge_keys, human_keys, labels)
    numbers = [(_number(j), _number(h)) for _, j, h in pairs]
    spearman = spearman_p = None
    if all(a is not None and b is not None for a, b in numbers):
        xs = [float(a) for a, _ in numbers if a is not None]
        ys = [float(b) for _, b in numbers if b is not None]
        if len(set(xs)) > 1 and len(set(ys)) > 1:
            result = spearman_rho(xs, ys)
            spearman, spearman_p = result.statistic, result.p_value
    disagreements = []
    for (item_id, _, _), j, h, (a, b) in zip(pairs, judge_keys, human_keys, numbers, strict=True):
        if j != h:
            distance = abs(a - b) if a is not None and b is not None else 1.0
            disagreements.append(Disagreement(item_id, j, h, distance))
    disagreements.sort(key=lambda d: (-d.distance, d.item_id))
    return CalibrationReport(
        n=len(pairs),
        skipped_errors=skipped,
        agreement=sum(j == h for j, h in zip(judge_keys, human_keys, strict=True)) / len(pairs),
        kappa=cohens_kappa(matrix),
        weighted_kappa=None if weights is None else cohens_kappa(matrix, weights),
        spearman=spearman,
        spearman_p_value=spearman_p,
        confusion=matrix,
        disagreements=disagreements[:top_disagreements],
    )
