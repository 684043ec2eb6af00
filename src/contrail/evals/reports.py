"""The CI verdict on a run (thresholds, error rate, regressions against a baseline) and its reports:
JUnit XML for test dashboards and Markdown for ``$GITHUB_STEP_SUMMARY``; for a matrix of target
variants, the quality / cost / latency table with its Pareto front (Markdown and JSON).

Item content (inputs, outputs, errors) is untrusted: it is escaped for XML and for Markdown (HTML
entities, table pipes, links, code spans) and truncated.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from decimal import Decimal
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


def junit_xml(verdict: Verdict | MatrixVerdict) -> str:
    """Three suites: the gate's checks, the baseline comparison, and one test case per item; for a
    matrix, those three per variant, their names prefixed with the variant's."""
    if isinstance(verdict, MatrixVerdict):
        root = ET.Element("testsuites", name=_xml(f"contrail eval matrix on {verdict.dataset}"))
        for variant in verdict.variants:
            _junit_suites(root, variant.verdict, f"[{variant.name}] ")
    else:
        root = ET.Element("testsuites", name=_xml(f"contrail eval {verdict.run.name}"))
        _junit_suites(root, verdict, "")
    for suite in root:
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(sum(1 for c in suite if c.find("failure") is not None)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_suites(root: ET.Element, verdict: Verdict, prefix: str) -> None:
    run = verdict.run
    checks = _suite(root, prefix + "thresholds")
    for check in verdict.checks:
        case = _case(checks, "thresholds", str(check.threshold))
        if not check.passed:
            _fail(case, f"actual {_fmt(check.actual)}", "threshold")
    if verdict.comparisons:
        compared = _suite(root, prefix + "baseline")
        for comparison in verdict.comparisons:
            case = _case(compared, "baseline", comparison.metric)
            if comparison.regressed:
                detail = f"diff {_fmt(comparison.diff, signed=True)}, p={_fmt(comparison.p_value)}"
                _fail(case, detail, "regression")
    items = _suite(root, f"{prefix}items ({run.dataset})")
    for result in sorted(run.results, key=lambda r: r.item_id):
        case = _case(items, run.dataset, result.item_id)
        if result.latency_ms is not None:
            case.set("time", f"{result.latency_ms / 1000:.3f}")
        if result.failed:
            _fail(case, _item_problem(result), "error" if result.error else "score")


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


# --- matrix: one experiment per target variant ----------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class VariantVerdict:
    """One variant of a matrix: its name, the target fields it changed, and its run's verdict."""

    name: str
    overrides: Mapping[str, Any]
    verdict: Verdict


@dataclasses.dataclass(frozen=True, slots=True)
class MatrixRow:
    """A variant's line of the comparison table (money as Decimal, latency in ms)."""

    variant: str
    experiment: str
    experiment_id: str
    items: int
    errors: int
    means: dict[str, float | None]
    cost_usd_total: Decimal | None
    cost_usd_mean: Decimal | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    passed: bool
    pareto: bool = False
    dominated_by: tuple[str, ...] = ()
    not_compared: str | None = None  # why the variant has no place on the front (a missing objective)

    @property
    def pareto_text(self) -> str:
        if self.pareto:
            return "★ optimal"
        if self.dominated_by:
            return "dominated by " + ", ".join(self.dominated_by)
        return f"not compared: {self.not_compared}"


@dataclasses.dataclass
class MatrixVerdict:
    """A matrix passes when every variant passes its gate; ``rows`` is the comparison table."""

    dataset: str
    variants: list[VariantVerdict]
    rows: list[MatrixRow]
    quality: str | None
    objectives: dict[str, str]

    @property
    def passed(self) -> bool:
        return all(v.verdict.passed for v in self.variants)

    def failures(self) -> list[str]:
        return [f"[{v.name}] {line}" for v in self.variants for line in v.verdict.failures()]

    def to_json(self) -> dict[str, Any]:
        """The table as JSON (money as decimal strings), for ``contrail eval run --json``."""
        return {
            "dataset": self.dataset,
            "passed": self.passed,
            "quality": self.quality,
            "objectives": self.objectives,
            "pareto_front": [row.variant for row in self.rows if row.pareto],
            "variants": [
                _row_json(row, v.overrides) for row, v in zip(self.rows, self.variants, strict=True)
            ],
            "failures": self.failures(),
        }


def _row_json(row: MatrixRow, overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = dataclasses.asdict(row)
    for key in ("cost_usd_total", "cost_usd_mean"):
        out[key] = None if out[key] is None else str(out[key])
    out["dominated_by"] = list(row.dominated_by)
    out["target"] = dict(overrides)
    return out


_PARETO_COLUMNS = {"quality": "max", "cost_usd_mean": "min", "latency_p50_ms": "min"}


def matrix_verdict(dataset: str, variants: Sequence[VariantVerdict], *, quality: str | None) -> MatrixVerdict:
    """The comparison table of ``variants`` with its Pareto front: ``quality`` (a scorer's mean,
    higher is better), mean cost per item and median latency (lower is better). An objective no
    variant has (no scorer, no cost reported) is left out; a variant missing one the others have is
    "not compared" rather than guessed at."""
    from contrail.evals.stats import pareto_front

    rows = [_matrix_row(v) for v in variants]
    points = {row.variant: _pareto_point(row, quality) for row in rows}
    objectives = {
        column: way
        for column, way in _PARETO_COLUMNS.items()
        if any(p[column] is not None for p in points.values())
    }
    if objectives:
        front = pareto_front(points, objectives)
        rows = [
            dataclasses.replace(
                row,
                pareto=row.variant in front.front,
                dominated_by=tuple(front.dominated_by.get(row.variant, ())),
                not_compared=_why_not_compared(front.skipped.get(row.variant)),
            )
            for row in rows
        ]
    return MatrixVerdict(dataset, list(variants), rows, quality, objectives)


_MISSING = {
    "quality": "no quality score (every item failed?)",
    "cost_usd_mean": "no cost (a model the price catalogue does not know?)",
    "latency_p50_ms": "no latency (every answer came from the cache?)",
}


def _why_not_compared(reason: str | None) -> str | None:
    """pareto_front's reason ("no numeric 'cost_usd_mean'") in the table's words."""
    if reason is None:
        return None
    return next((words for column, words in _MISSING.items() if repr(column) in reason), reason)


def _pareto_point(row: MatrixRow, quality: str | None) -> dict[str, float | Decimal | None]:
    return {
        "quality": row.means.get(quality) if quality else None,
        "cost_usd_mean": row.cost_usd_mean,
        "latency_p50_ms": row.latency_p50_ms,
    }


def _matrix_row(variant: VariantVerdict) -> MatrixRow:
    run = variant.verdict.run
    metrics = run.metrics()
    costs = [r.cost_usd for r in run.results if r.cost_usd is not None]
    total = sum(costs, Decimal(0)) if costs else None
    return MatrixRow(
        variant=variant.name,
        experiment=run.name,
        experiment_id=run.id,
        items=int(metrics["items"]),
        errors=int(metrics["errors"]),
        means={name: metrics.get(f"{name}.mean") for name in run.scores_by_name()},
        cost_usd_total=total,
        cost_usd_mean=None if total is None else total / len(costs),
        latency_p50_ms=metrics.get("latency_p50_ms"),
        latency_p95_ms=metrics.get("latency_p95_ms"),
        passed=variant.verdict.passed,
    )


def matrix_scorers(verdict: MatrixVerdict) -> list[str]:
    """Every scorer name in the table, the quality one first."""
    names = sorted({name for row in verdict.rows for name in row.means})
    if verdict.quality in names:
        names.remove(verdict.quality)
        names.insert(0, verdict.quality)
    return names


def matrix_markdown(verdict: MatrixVerdict) -> str:
    """The comparison table, then each variant's own summary."""
    icon = "✅" if verdict.passed else "❌"
    scorers = matrix_scorers(verdict)
    lines = [
        f"## {icon} Contrail eval matrix on `{_code(verdict.dataset)}` ({len(verdict.rows)} variants)",
        "",
    ]
    lines.append(
        "| variant | experiment | items | errors | "
        + "".join(f"{_md(name)} | " for name in scorers)
        + "cost total | cost / item | p50 ms | p95 ms | Pareto | gate |"
    )
    lines.append("|---" * (10 + len(scorers)) + "|")
    for row in verdict.rows:
        means = "".join(f"{_fmt(row.means.get(name))} | " for name in scorers)
        pareto = "**★ optimal**" if row.pareto else _md(row.pareto_text)
        lines.append(
            f"| {_md(row.variant)} | `{_code(row.experiment)}` | {row.items} | {row.errors} | {means}"
            f"{money_text(row.cost_usd_total)} | {money_text(row.cost_usd_mean)} | {_ms(row.latency_p50_ms)} "
            f"| {_ms(row.latency_p95_ms)} | {pareto} | {'pass' if row.passed else '**FAIL**'} |"
        )
    lines += ["", _objectives_note(verdict)]
    for line in verdict.failures():
        lines.append(f"- ❌ {_md(line, 400)}")
    return "\n".join(lines) + "\n\n" + "\n".join(markdown_summary(v.verdict) for v in verdict.variants)


def _objectives_note(verdict: MatrixVerdict) -> str:
    words = {
        "quality": f"quality (`{_code(verdict.quality or '')}` mean, higher is better)",
        "cost_usd_mean": "cost per item (lower is better)",
        "latency_p50_ms": "p50 latency (lower is better)",
    }
    if not verdict.objectives:
        return "No Pareto front: no variant has a score, a cost or a latency."
    return "Pareto front over " + ", ".join(words[c] for c in verdict.objectives) + "."


def money_text(value: Decimal | None) -> str:
    """A dollar amount for tables, to the nano-dollar without trailing zeros (per-item LLM costs are
    often millionths of a dollar)."""
    return "-" if value is None else "$" + f"{value:.9f}".rstrip("0").rstrip(".")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def as_matrix(verdict: Verdict | MatrixVerdict) -> MatrixVerdict:
    """A single run as a one-row table (quality: its first scorer), so ``--json`` has one shape."""
    if isinstance(verdict, MatrixVerdict):
        return verdict
    run = verdict.run
    quality = next(iter(run.scores_by_name()), None)
    return matrix_verdict(run.dataset, [VariantVerdict(run.name, {}, verdict)], quality=quality)


def matrix_json(verdict: Verdict | MatrixVerdict) -> str:
    return json.dumps(as_matrix(verdict).to_json(), indent=2, ensure_ascii=False) + "\n"
