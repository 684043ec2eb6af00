"""eval.yaml parsing (errors with file and line), thresholds, JUnit XML and the Markdown summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from contrail.evals.base import ScoreResult
from contrail.evals.config import ConfigError, EvalConfig, Threshold, load_config
from contrail.evals.reports import comparisons_from, judge, junit_xml, markdown_summary
from contrail.evals.runner import ExperimentRun, ItemResult

HOSTILE = "<script>alert(1)</script> | [x](http://evil) `rm -rf` \x01\n# heading"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "eval.yaml"
    path.write_text(text)
    return path


def test_valid_file_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dataset: qa\ntarget:\n  kind: http\n  url: http://x/answer\n  output_path: answer\n"
        "scorers: [exact_match]\nthresholds: ['exact_match.mean >= 0.8']\nbaseline: main\n",
    )
    config = load_config(path)
    assert isinstance(config, EvalConfig)
    assert config.parsed_thresholds() == [Threshold("exact_match.mean", ">=", 0.8)]
    assert config.target.kind == "http"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("dataset: qa\ntarget: [unclosed\n", 3, "invalid YAML"),
        ("dataset: qa\ntarget:\n  kind: python\n  function: m:f\nconcurency: 4\n", 5, "concurency"),
        ("dataset: qa\ntarget:\n  kind: carrier-pigeon\n", 3, "kind"),
        ("dataset: qa\ntarget:\n  kind: http\n", 3, "url"),
        (
            "dataset: qa\ntarget: {kind: python, function: m:f}\n"
            "thresholds:\n  - ok >= 1\n  - mean about 0.8\n",
            5,
            "mean about 0.8",
        ),
        ("dataset: qa\ntarget: {kind: python, function: m:f}\nconcurrency: 0\n", 3, "concurrency"),
        ("- just\n- a list\n", 1, "mapping"),
    ],
)
def test_bad_files_name_the_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert fragment in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_thresholds_compare_metrics() -> None:
    metrics = {"exact.mean": 0.75}
    assert not Threshold.parse("exact.mean >= 0.8").check(metrics).passed
    assert Threshold.parse("exact.mean > 0.7").check(metrics).passed
    assert Threshold.parse("exact.mean<=0.75").check(metrics).passed
    missing = Threshold.parse("other.mean >= 0").check(metrics)
    assert not missing.passed and missing.actual is None


def sample_run() -> ExperimentRun:
    good = ScoreResult("exact", value=1.0, passed=True)
    bad = ScoreResult("exact", value=0.0, passed=False, reason=HOSTILE)
    results = [
        ItemResult("i1", "q1", "A", output="A", latency_ms=10.0, scores=(good,)),
        ItemResult("i2", "q2", "B", output=HOSTILE, latency_ms=30.0, scores=(bad,)),
        ItemResult("i3", "q3", "C", error="TimeoutError: " + HOSTILE),
    ]
    return ExperimentRun({"id": "e1", "name": "run `1` | <b>"}, "qa", results)


def test_metrics_and_verdict() -> None:
    run = sample_run()
    metrics = run.metrics()
    assert metrics["exact.mean"] == 0.5 and metrics["exact.pass_rate"] == 0.5
    assert metrics["errors"] == 1 and metrics["error_rate"] == pytest.approx(1 / 3)
    assert metrics["latency_p50_ms"] == 10.0 and metrics["latency_p95_ms"] == 30.0
    verdict = judge(run, [Threshold.parse("exact.mean >= 0.5")], max_error_rate=0.5)
    assert verdict.passed
    verdict = judge(run, [Threshold.parse("exact.mean >= 0.8")], max_error_rate=0.5)
    assert not verdict.passed
    assert verdict.failures() == ["threshold exact.mean >= 0.8 failed (actual 0.500)"]
    assert not judge(run, [], max_error_rate=0.0).passed


def test_regression_fails_the_verdict() -> None:
    payload = {
        "metrics": [
            {
                "metric": "exact",
                "baseline_mean": 0.9,
                "candidate_mean": 0.5,
                "mean_diff": -0.4,
                "ci": [-0.6, -0.2],
                "p_value": 0.001,
                "significant": True,
                "regressed_items": ["i2"],
            },
            {
                "metric": "cost",
                "diff": 0.5,
                "ci_low": 0.1,
                "ci_high": 0.9,
                "p_value": 0.01,
                "significant": True,
                "verdict": "regressed",
                "regressed_items": [{"item_id": "i1", "change": -0.5}],
            },
            {"metric": "f1", "mean_diff": -0.01, "ci": [-0.1, 0.1], "p_value": 0.7, "significant": False},
        ]
    }
    comparisons = comparisons_from(payload)
    assert [c.regressed for c in comparisons] == [True, True, False]
    assert comparisons[1].regressed_items == ("i1",) and comparisons[1].ci_high == 0.9
    verdict = judge(sample_run(), [], max_error_rate=None, comparisons=comparisons, baseline={"name": "main"})
    assert not verdict.passed
    assert verdict.failures() == [
        "exact regressed against the baseline: -0.400 (p=0.001)",
        "cost regressed against the baseline: +0.500 (p=0.010)",
    ]
    assert "| exact | 0.900 | 0.500 | -0.400 | [-0.600, -0.200] | 0.001 | **regressed** |" in (
        markdown_summary(verdict)
    )


def test_junit_xml_has_a_case_per_check_and_item_and_survives_hostile_content() -> None:
    verdict = judge(sample_run(), [Threshold.parse("exact.mean >= 0.8")], max_error_rate=0.0)
    root = ET.fromstring(junit_xml(verdict).encode())
    suites = {s.get("name"): s for s in root}
    assert suites["thresholds"].get("tests") == "2" and suites["thresholds"].get("failures") == "2"
    items = suites["items (qa)"]
    assert [c.get("name") for c in items] == ["i1", "i2", "i3"]
    assert items.get("failures") == "2"
    failure = items[2].find("failure")
    assert failure is not None and failure.get("type") == "error"
    assert "<script>" in (failure.text or "")  # escaped in the file, intact once parsed
    assert "\x01" not in (failure.text or "")


def test_markdown_escapes_untrusted_content() -> None:
    text = markdown_summary(judge(sample_run(), [], max_error_rate=0.0))
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "[x](http://evil)" not in text and "\\[x\\]" in text
    assert "\n# heading" not in text
    failing = [line for line in text.splitlines() if line.startswith("| `i")]
    assert len(failing) == 2 and all(line.count(" | ") == 2 for line in failing)  # no extra cells
    assert text.startswith("## ❌ Contrail eval `run '1' ¦ <b>` on `qa`")
