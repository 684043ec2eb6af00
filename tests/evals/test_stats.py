"""Statistics against scipy as the oracle, and the comparison table's handling of gaps and errors."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as scipy_stats

from contrail.evals.base import ScoreResult
from contrail.evals.significance import (
    bootstrap_mean_ci,
    incomplete_beta,
    paired_t_test,
    spearman_rho,
    t_two_sided_p,
    wilcoxon_signed_rank,
)
from contrail.evals.stats import compare, compare_metric, pareto_front


def _samples() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(2024)
    cases = []
    for n in (2, 3, 5, 8, 13, 14, 20, 50, 51, 120, 400):
        cases.append((f"continuous-{n}", rng.normal(0.15, 1.0, n)))
        cases.append((f"ties-{n}", rng.integers(-2, 3, n).astype(float)))
        if n != 13:  # scipy's own sign-flip enumeration at n = 13 takes seconds; ties-13 covers it
            cases.append((f"binary-{n}", rng.integers(0, 2, n) - rng.integers(0, 2, n).astype(float)))
    return [(name, d) for name, d in cases if np.any(d != 0) and np.std(d) > 0]


SAMPLES = _samples()


@pytest.mark.parametrize(("label", "d"), SAMPLES, ids=[label for label, _ in SAMPLES])
def test_paired_t_test_matches_scipy(label: str, d: np.ndarray) -> None:
    ours = paired_t_test(d.tolist())
    theirs = scipy_stats.ttest_rel(d, np.zeros_like(d))
    assert ours.statistic == pytest.approx(float(theirs.statistic), rel=1e-9)
    assert ours.p_value == pytest.approx(float(theirs.pvalue), rel=1e-7, abs=1e-12)


@pytest.mark.parametrize(("label", "d"), SAMPLES, ids=[label for label, _ in SAMPLES])
def test_wilcoxon_matches_scipy(label: str, d: np.ndarray) -> None:
    ours = wilcoxon_signed_rank(d.tolist())
    theirs = scipy_stats.wilcoxon(d)
    assert ours.p_value == pytest.approx(float(theirs.pvalue), rel=1e-7, abs=1e-12)


def test_known_values() -> None:
    # Textbook values: I_0.5(2, 3) = 11/16; P(|T_10| >= 2.228) ~= 0.05.
    assert incomplete_beta(2.0, 3.0, 0.5) == pytest.approx(11 / 16, rel=1e-12)
    assert t_two_sided_p(2.228138851986, 10) == pytest.approx(0.05, rel=1e-8)
    # Wilcoxon exact: differences 1..6 all positive → p = 2 / 2**6.
    assert wilcoxon_signed_rank([1, 2, 3, 4, 5, 6]).p_value == pytest.approx(2 / 64)


def test_degenerate_tests_do_not_return_nan() -> None:
    assert paired_t_test([0.0, 0.0, 0.0]).p_value == 1.0
    assert paired_t_test([1.0, 1.0, 1.0]).p_value == 0.0
    assert wilcoxon_signed_rank([0.0, 0.0]).p_value == 1.0
    with pytest.raises(ValueError, match="at least 2 pairs"):
        paired_t_test([1.0])


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, 40).astype(float)
    y = x + rng.normal(0, 1.5, 40)
    ours = spearman_rho(x.tolist(), y.tolist())
    theirs = scipy_stats.spearmanr(x, y)
    assert ours.statistic == pytest.approx(float(theirs.statistic), rel=1e-12)
    assert ours.p_value == pytest.approx(float(theirs.pvalue), rel=1e-7)


def test_bootstrap_interval_is_seeded_and_agrees_with_scipy() -> None:
    rng = np.random.default_rng(11)
    d = rng.normal(0.2, 1.0, 300)
    low, high = bootstrap_mean_ci(d.tolist(), seed=3)
    assert (low, high) == bootstrap_mean_ci(d.tolist(), seed=3)
    assert low < d.mean() < high
    theirs = scipy_stats.bootstrap((d,), np.mean, method="percentile", n_resamples=10_000, random_state=1)
    # Different random streams: the two percentile intervals agree to within a few hundredths.
    assert low == pytest.approx(theirs.confidence_interval.low, abs=0.02)
    assert high == pytest.approx(theirs.confidence_interval.high, abs=0.02)
    width = 2 * 1.96 * d.std(ddof=1) / math.sqrt(d.size)
    assert high - low == pytest.approx(width, rel=0.1)


def test_bootstrap_bad_options() -> None:
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_mean_ci([1.0, 2.0], confidence=1.5)
    with pytest.raises(ValueError, match="at least 1 value"):
        bootstrap_mean_ci([])


def test_significant_regression_lists_worst_items_first() -> None:
    rng = np.random.default_rng(0)
    baseline = {f"item-{i}": float(v) for i, v in enumerate(rng.uniform(0.6, 1.0, 60))}
    candidate = {k: v - 0.2 for k, v in baseline.items()}
    candidate["item-7"] = baseline["item-7"] - 0.5
    candidate["item-9"] = baseline["item-9"] + 0.1
    row = compare(baseline, candidate).metric("score")
    assert row.n_paired == 60 and row.verdict == "regressed" and row.significant
    assert row.diff == pytest.approx((-0.2 * 58 - 0.5 + 0.1) / 60)
    assert row.ci_low is not None and row.ci_high is not None and row.ci_low < row.diff < row.ci_high < 0
    assert row.regressed_items[0].item_id == "item-7"
    assert row.regressed_items[0].change == pytest.approx(-0.5)
    assert "item-9" not in {c.item_id for c in row.regressed_items}
    assert len(row.regressed_items) == 59


def test_noise_is_not_significant() -> None:
    rng = np.random.default_rng(1)
    baseline = {str(i): float(v) for i, v in enumerate(rng.normal(0.7, 0.1, 40))}
    candidate = {k: v + float(rng.normal(0, 0.1)) * 0.01 for k, v in baseline.items()}
    candidate = {k: v + (0.05 if int(k) % 2 else -0.05) for k, v in candidate.items()}
    row = compare_metric(baseline, candidate)
    assert row.significant is False and row.verdict == "unchanged"
    assert row.p_value is not None and row.p_value > 0.05


def test_missing_items_and_errors_are_skipped_and_counted() -> None:
    baseline = {"a": 1.0, "b": 0.0, "c": 1.0, "d": None, "e": 1.0, "only-base": 1.0}
    candidate = {
        "a": 1.0,
        "b": 1.0,
        "c": ScoreResult(name="s", error="judge answered garbage"),
        "d": 1.0,
        "e": float("nan"),
        "only-cand": 0.0,
    }
    row = compare_metric(baseline, candidate)
    assert (row.n_paired, row.baseline_only, row.candidate_only) == (2, 1, 1)
    assert (row.baseline_errors, row.candidate_errors) == (1, 2)
    # Only a and b are paired: errors were not turned into zeros.
    assert row.baseline_mean == 0.5 and row.candidate_mean == 1.0


def test_multi_metric_table_and_lower_is_better() -> None:
    baseline = {str(i): {"correct": 1.0, "latency": 1.0 + i / 100} for i in range(30)}
    candidate = {str(i): {"correct": 1.0, "latency": 2.0 + i / 100} for i in range(30)}
    table = compare(baseline, candidate, higher_is_better={"latency": False}, test="wilcoxon")
    assert [m.metric for m in table.metrics] == ["correct", "latency"]
    assert table.metric("correct").verdict == "unchanged"
    assert table.metric("latency").verdict == "regressed"
    assert [m.metric for m in table.regressions] == ["latency"]
    as_json = table.to_dict()
    assert as_json["regressed"] == ["latency"] and as_json["metrics"][1]["test"] == "wilcoxon"


def test_too_few_pairs_gives_no_test() -> None:
    row = compare_metric({"a": 1.0}, {"a": 0.0})
    assert row.n_paired == 1 and row.p_value is None and row.verdict == "unchanged"
    assert row.note == "too few paired items for a test (need 2)"
    empty = compare_metric({"a": 1.0}, {"b": 1.0})
    assert empty.n_paired == 0 and empty.note == "no item has a valid score in both runs"


def test_bad_options_and_scores() -> None:
    with pytest.raises(ValueError, match="alpha"):
        compare({}, {}, alpha=0)
    with pytest.raises(ValueError, match="test must be"):
        compare({}, {}, test="z")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a score must be a number"):
        compare({"a": "high"}, {"a": 1.0})  # type: ignore[dict-item]


def test_pareto_front() -> None:
    rows = {
        "gpt-big": {"quality": 0.92, "cost": 0.010, "latency": 2.0},
        "gpt-small": {"quality": 0.85, "cost": 0.001, "latency": 0.6},
        "slow-and-worse": {"quality": 0.80, "cost": 0.002, "latency": 2.5},
        "same-as-small": {"quality": 0.85, "cost": 0.001, "latency": 0.6},
        "no-cost": {"quality": 0.99, "cost": None, "latency": 0.1},
    }
    result = pareto_front(rows, {"quality": "max", "cost": "min", "latency": "min"})
    assert result.front == ["gpt-big", "gpt-small", "same-as-small"]
    assert result.dominated_by == {"slow-and-worse": ["gpt-small", "same-as-small"]}
    assert result.skipped == {"no-cost": "no numeric 'cost'"}
    with pytest.raises(ValueError, match="'max' or 'min'"):
        pareto_front(rows, {"quality": "best"})


def test_ten_thousand_resamples_of_a_thousand_pairs_is_vectorised() -> None:
    # Counts numpy work rather than timing it: one resampling call per block of ~1M numbers.
    code = (
        "import numpy as np; from contrail.evals import significance as s\n"
        "calls = 0\n"
        "real = np.random.Generator.integers\n"
        "class G:\n"
        "    def __init__(self, g): self.g = g\n"
        "    def integers(self, *a, **k):\n"
        "        global calls; calls += 1; return self.g.integers(*a, **k)\n"
        "orig = np.random.default_rng\n"
        "np.random.default_rng = lambda seed: G(orig(seed))\n"
        "s.bootstrap_mean_ci(list(np.linspace(-1, 1, 1000)))\n"
        "print(calls)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(done.stdout) == 10
