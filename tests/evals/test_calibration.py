"""Judge calibration: kappa (known values), Spearman (scipy oracle), confusion matrix, disagreements."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from contrail.evals.base import ScoreResult
from contrail.evals.calibration import calibrate, cohens_kappa, confusion_matrix


def _wikipedia_example() -> tuple[dict[str, str], dict[str, str]]:
    # Cohen's kappa article: 50 proposals, A yes/B yes 20, A yes/B no 5, A no/B yes 10, both no 15 → 0.4.
    cells = [("yes", "yes", 20), ("yes", "no", 5), ("no", "yes", 10), ("no", "no", 15)]
    judge, human, i = {}, {}, 0
    for a, b, count in cells:
        for _ in range(count):
            judge[f"p{i}"], human[f"p{i}"] = a, b
            i += 1
    return judge, human


def test_kappa_known_value_and_confusion() -> None:
    judge, human = _wikipedia_example()
    report = calibrate(judge, human)
    assert report.n == 50 and report.kappa == pytest.approx(0.4)
    assert report.agreement == pytest.approx(0.7)
    assert report.confusion.labels == ["no", "yes"]
    assert report.confusion.count(human="yes", judge="no") == 10
    assert report.confusion.count(human="no", judge="yes") == 5
    assert report.spearman is None  # categorical labels


def _weighted_kappa_oracle(a: list[int], b: list[int], k: int, power: int) -> float:
    observed = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        observed[y, x] += 1
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    i, j = np.indices((k, k))
    w = (np.abs(i - j) / (k - 1)) ** power
    return float(1 - (w * observed).sum() / (w * expected).sum())


def test_weighted_kappa_and_spearman_against_oracles() -> None:
    rng = np.random.default_rng(3)
    human_scores = rng.integers(1, 6, 80)
    judge_scores = np.clip(human_scores + rng.integers(-1, 2, 80), 1, 5)
    judge_scores[:5] = 5  # a few wild judgements
    human = {f"i{n}": int(v) for n, v in enumerate(human_scores)}
    judge = {f"i{n}": int(v) for n, v in enumerate(judge_scores)}
    labels = ["1", "2", "3", "4", "5"]
    for weights, power in (("linear", 1), ("quadratic", 2)):
        report = calibrate(judge, human, labels=labels, weights=weights)
        oracle = _weighted_kappa_oracle(list(judge_scores - 1), list(human_scores - 1), 5, power)
        assert report.weighted_kappa == pytest.approx(oracle, rel=1e-12)
    ids = sorted(judge)  # calibrate pairs items in id order; Spearman does not care about order
    theirs = scipy_stats.spearmanr([judge[i] for i in ids], [human[i] for i in ids])
    assert report.spearman == pytest.approx(float(theirs.statistic), rel=1e-12)
    assert report.spearman_p_value == pytest.approx(float(theirs.pvalue), rel=1e-7)


def test_disagreements_are_sorted_by_distance() -> None:
    human = {"a": 5, "b": 4, "c": 3, "d": 1, "e": 2}
    judge = {"a": 1, "b": 4, "c": 4, "d": 1, "e": 4}
    report = calibrate(judge, human)
    assert [(d.item_id, d.distance) for d in report.disagreements] == [("a", 4.0), ("e", 2.0), ("c", 1.0)]
    assert report.disagreements[0].judge == "1" and report.disagreements[0].human == "5"


def test_judge_errors_are_skipped_and_score_results_accepted() -> None:
    human = {"a": "pass", "b": "fail", "c": "pass", "d": "pass"}
    judge = {
        "a": ScoreResult(name="j", value=1.0, label="pass"),
        "b": ScoreResult(name="j", value=0.0, label="fail"),
        "c": ScoreResult(name="j", error="garbage answer"),
        "d": "pass",
    }
    report = calibrate(judge, human)
    assert report.n == 3 and report.skipped_errors == 1 and report.agreement == 1.0 and report.kappa == 1.0


def test_constant_identical_labels_give_kappa_one_not_nan() -> None:
    matrix = confusion_matrix(["yes"] * 4, ["yes"] * 4)
    assert cohens_kappa(matrix) == 1.0


def test_mismatched_ids_are_named() -> None:
    with pytest.raises(ValueError) as raised:
        calibrate({"a": 1, "b": 2, "x": 3}, {"a": 1, "b": 2, "y": 3, "z": 1})
    message = str(raised.value)
    assert "1 only judged (x)" in message and "2 only labelled by humans (y, z)" in message


@pytest.mark.parametrize(
    ("judge", "human", "message"),
    [
        ({"a": 1, "b": 2}, {"a": 1, "b": 2}, "at least 3 items with both labels, got 2"),
        ({"a": 1, "b": None, "c": 2}, {"a": 1, "b": 2, "c": 2}, "at least 3 items with both labels, got 2"),
        ({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": None, "c": 3}, "item 'b' has no human label"),
        ({"a": [1], "b": 2, "c": 3}, {"a": 1, "b": 2, "c": 3}, "a label must be a string, number"),
    ],
)
def test_bad_input(judge: dict[str, object], human: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate(judge, human)


def test_labels_outside_the_given_list_and_bad_weights() -> None:
    with pytest.raises(ValueError, match=r"labels \['maybe'\] are not in the given label list"):
        calibrate(
            {"a": "yes", "b": "maybe", "c": "no"}, {"a": "yes", "b": "no", "c": "no"}, labels=["no", "yes"]
        )
    with pytest.raises(ValueError, match="weights must be"):
        calibrate({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "c": 3}, weights="cubic")  # type: ignore[arg-type]
