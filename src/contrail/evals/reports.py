"""The CI verdict on a run (thresholds, error rate, regressions against a baseline) and its reports:
JUnit XML for test dashboards and Markdown for ``$GITHUB_STEP_SUMMARY``.

Item content (inputs, outputs, errors) is untrusted: it is escaped for XML and for Markdown (HTML
entities, table pipes, links, code spans) and truncated.
"""

from __future__ import annotations

import dataclasses
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from contrail.evals.config import Threshold, ThresholdResult
from contrail.evals.runner import ExperimentRun, ItemResult

_MAX_ITEMS_LISTED = 20
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclasses.dataclass(frozen=True, slots=True)
class Comparison:
    """One metric of the server's baseline/candidate comparison (``stats.compare``)."""

    metric: str
    baseline_mean: float | None
    candidate_mean: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    significant: bool
    regressed: bool
    regressed_items: tuple[str, ...] = ()


def comparisons_from(payload: Mapping[str, Any]) -> list[Comparison]:
    """Rows of a ``GET /api/v1/experiments/compare`` answer.

    A metric regressed when the server's ``verdict`` says so (``stats.compare``: significant and
    the wrong way for that metric); without one, when a significant difference lowered the mean.
    """
    rows = payload.get("metrics") or payload.get("data") or []
    if isinstance(rows, Mapping):
        rows = [{"metric": name, **row} for name, row in rows.items()]
    out = []
    for row in rows:
        diff = _number(row.get("mean_diff", row.get("diff")))
        ci = row.get("ci") or row.get("ci95") or [row.get("ci_low"), row.get("ci_high")]
        significant = bool(row.get("significant"))
        regressed = row.get("regressed")
        if "verdict" in row:
            regressed = row["verdict"] == "regressed"
        elif not isinstance(regressed, bool):
            regressed = significant and diff is not None and diff < 0
        out.append(
            Comparison(
                metric=str(row.get("metric") or row.get("name")),
                baseline_mean=_number(row.get("baseline_mean")),
                candidate_mean=_number(row.get("candidate_mean")),
                diff=diff,
                ci_low=_number(ci[0]) if len(ci) > 0 else None,
                ci_high=_number(ci[1]) if len(ci) > 1 else None,
                p_value=_number(row.get("p_value")),
                significant=significant,
                regressed=regressed,
                regressed_items=tuple(_item_id(i) for i in row.get("regressed_items") or ()),
            )
        )
    return out


def _item_id(entry: Any) -> str:
    return str(entry.get("item_id")) if isinstance(entry, Mapping) else str(entry)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclasses.dataclass
class Verdict:
    """Whether a run passes its CI gate, and why."""

    run: ExperimentRun
    checks: list[ThresholdResult]
    comparisons: list[Comparison] = dataclasses.field(default_factory=list)
    baseline: Mapping[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and not any(c.regressed for c in self.comparisons)

    def failures(self) -> list[str]:
        lines = [
            f"threshold {c.threshold} failed (actual {_fmt(c.actual)})" for c in self.checks if not c.passed
        ]
        lines += [
            f"{c.metric} regressed against the baseline: {_fmt(c.diff, signed=True)} (p={_fmt(c.p_value)})"
            for c in self.comparisons
            if c.regressed
        ]
        return lines


def judge(
    run: ExperimentRun,
    thresholds: Sequence[Threshold],
    *,
    max_error_rate: float | None = 0.0,
    comparisons: Sequence[Comparison] = (),
    baseline: Mapping[str, Any] | None = None,
) -> Verdict:
    """Check ``thresholds`` (and the target error rate) against the run's metrics."""
    metrics = run.metrics()
    checks = [t.check(metrics) for t in thresholds]
    if max_error_rate is not None:
        checks.append(Threshold("error_rate", "<=", max_error_rate).check(metrics))
    return Verdict(run, checks, list(comparisons), baseline)


# --- JUnit XML ----------------------------------------------------------------------------------


def junit_xml(verdict: Verdict) -> str:
    """Three suites: the gate's checks, the baseline comparison, and one test case per item."""
    run = verdict.run
    root = ET.Element("testsuites", name=_xml(f"contrail eval {run.name}"))
    checks = _suite(root, "thresholds")
    for check in verdict.checks:
        case = _case(checks, "thresholds", str(check.threshold))
        if not check.passed:
            _fail(case, f"actual {_fmt(check.actual)}", "threshold")
    if verdict.comparisons:
        compared = _suite(root, "baseline")
        for comparison in verdict.comparisons:
            case = _case(compared, "baseline", comparison.metric)
            if comparison.regressed:
                detail = f"diff {_fmt(comparison.diff, signed=True)}, p={_fmt(comparison.p_value)}"
                _fail(case, detail, "regression")
    items = _suite(root, f"items ({run.dataset})")
    for result in sorted(run.results, key=lambda r: r.item_id):
        case = _case(items, run.dataset, result.item_id)
        if result.latency_ms is not None:
            case.set("time", f"{result.latency_ms / 1000:.3f}")
        if result.failed:
            _fail(case, _item_problem(result), "error" if result.error else "score")
    for suite in root:
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(sum(1 for c in suite if c.find("failure") is not None)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(root: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", name=_xml(name))


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=_xml(classname), name=_xml(name))


def _fail(case: ET.Element, message: str, kind: str) -> None:
    failure = ET.SubElement(case, "failure", message=_xml(message[:500]), type=kind)
    failure.text = _xml(message)


def _xml(text: str) -> str:
    """XML 1.0 cannot carry most control characters even escaped: drop them."""
    return _XML_INVALID.sub("", text)


def _item_problem(result: ItemResult) -> str:
    if result.error:
        return f"target error: {result.error}"
    parts = []
    for score in result.scores:
        if score.error:
            parts.append(f"{score.name}: scorer error: {score.error}")
        elif score.passed is False:
            reason = f" ({score.reason})" if score.reason else ""
            parts.append(f"{score.name}: failed, value {_fmt(score.value)}{reason}")
    return "; ".join(parts)


# --- Markdown -----------------------------------------------------------------------------------


def markdown_summary(verdict: Verdict) -> str:
    """A GitHub-flavoured Markdown summary: verdict, metrics, checks, comparison, failing items."""
    run = verdict.run
    metrics = run.metrics()
    icon = "✅" if verdict.passed else "❌"
    lines = [f"## {icon} Contrail eval `{_code(run.name)}` on `{_code(run.dataset)}`", ""]
    lines.append(
        f"{int(metrics['items'])} items · {int(metrics['errors'])} target errors"
        + (f" · p50 {metrics['latency_p50_ms']:.0f} ms" if "latency_p50_ms" in metrics else "")
        + (f" · p95 {metrics['latency_p95_ms']:.0f} ms" if "latency_p95_ms" in metrics else "")
        + (f" · cost ${metrics['cost_usd_total']:.4f}" if "cost_usd_total" in metrics else "")
    )
    lines += ["", "| scorer | mean | pass rate | scored | errors |", "|---|---|---|---|---|"]
    for name in sorted(run.scores_by_name()):
        lines.append(
            f"| {_md(name)} | {_fmt(metrics.get(name + '.mean'))} | {_fmt(metrics.get(name + '.pass_rate'))} "
            f"| {int(metrics[name + '.n'])} | {int(metrics[name + '.errors'])} |"
        )
    lines += ["", "### Checks", "", "| check | actual | result |", "|---|---|---|"]
    for check in verdict.checks:
        outcome = "pass" if check.passed else "**FAIL**"
        lines.append(f"| `{_code(str(check.threshold))}` | {_fmt(check.actual)} | {outcome} |")
    if verdict.comparisons:
        lines += _comparison_table(verdict)
    failing = [r for r in sorted(run.results, key=lambda r: r.item_id) if r.failed]
    if failing:
        lines += [
            "",
            f"### Failing items ({len(failing)})",
            "",
            "| item | problem | output |",
            "|---|---|---|",
        ]
        for result in failing[:_MAX_ITEMS_LISTED]:
            output = _md(_short(result.output), 160)
            lines.append(f"| `{_code(result.item_id)}` | {_md(_item_problem(result), 240)} | {output} |")
        if len(failing) > _MAX_ITEMS_LISTED:
            lines.append(f"\n…and {len(failing) - _MAX_ITEMS_LISTED} more.")
    return "\n".join(lines) + "\n"


def _comparison_table(verdict: Verdict) -> list[str]:
    name = (verdict.baseline or {}).get("name") or "baseline"
    lines = ["", f"### Compared with `{_code(str(name))}`", ""]
    lines += [
        "| metric | baseline | candidate | diff | 95% CI | p | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in verdict.comparisons:
        ci = f"[{_fmt(c.ci_low, signed=True)}, {_fmt(c.ci_high, signed=True)}]"
        if c.regressed:
            word = "**regressed**"
        elif c.significant:
            word = "improved" if (c.diff or 0) > 0 else "changed"
        else:
            word = "no significant change"
        lines.append(
            f"| {_md(c.metric)} | {_fmt(c.baseline_mean)} | {_fmt(c.candidate_mean)} "
            f"| {_fmt(c.diff, signed=True)} | {ci} | {_fmt(c.p_value)} | {word} |"
        )
    return lines


def _fmt(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _short(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _code(text: str) -> str:
    """Text inside a Markdown code span: no backticks, pipes or newlines can escape it."""
    return text.replace("`", "'").replace("|", "¦").replace("\n", " ")[:200]


def _md(text: str, limit: int = 200) -> str:
    """Untrusted text in a Markdown table cell: no HTML, links, emphasis or row breaks."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|#!~])", r"\\\1", text)
