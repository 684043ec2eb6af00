"""`matrix:` in eval.yaml: one experiment per target variant on the same dataset, against a live server
and the fake provider (answers scripted per model and per prompt version), the comparison table in the
terminal, Markdown and JSON, the Pareto marks, the exit code, and the bad-input errors."""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import contrail
from contrail.cli.main import cli
from contrail.evals.base import ScoreResult
from contrail.evals.client import EvalsClient
from contrail.evals.config import ConfigError, load_config
from contrail.evals.reports import VariantVerdict, judge, matrix_verdict
from contrail.evals.runner import ExperimentRun, ItemResult
from contrail.sdk import tracer as _tracer
from contrail.testing.fake_llm import FakeLLM
from tests.conftest import LiveContrail

CITIES = 4


@pytest.fixture
def live(sqlite_contrail: LiveContrail, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveContrail]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    previous = _tracer.STATE
    asyncio.run(_dataset(sqlite_contrail))
    try:
        yield sqlite_contrail
    finally:
        contrail.shutdown(5)
        _tracer.STATE = previous


async def _dataset(live: LiveContrail) -> None:
    async with EvalsClient(live.url, secret_key=live.secret_key) as client:
        await client.create_dataset("capitals")
        items = [
            {"id": f"c{i}", "input": {"q": f"city {i}"}, "expected_output": "Paris"} for i in range(CITIES)
        ]
        await client.upsert_items("capitals", items)


def invoke(live: LiveContrail, *args: str) -> Result:
    env = {"CONTRAIL_SECRET_KEY": live.secret_key, "CONTRAIL_PUBLIC_KEY": ""}
    return CliRunner().invoke(cli, ["eval", *args, "--host", live.url], env=env)


def write(tmp_path: Path, fake_llm: FakeLLM, matrix: str, *, target: str = "", extra: str = "") -> Path:
    path = tmp_path / "eval.yaml"
    target = target or (
        "{kind: prompt, model: gpt-4o-mini, messages: [{role: user, content: 'Capital of {{q}}?'}], "
        f"base_url: '{fake_llm.openai_base_url}'}}"
    )
    path.write_text(
        f"dataset: capitals\ntarget: {target}\n"
        "scorers: [{type: exact}]\nthresholds: ['exact.mean >= 0.8']\ncache: false\n"
        f"{extra}matrix:\n{matrix}"
    )
    return path


MODELS = "  - {model: gpt-4o-mini}\n  - {model: gpt-4o, name: big}\n  - {model: acme-local-1}\n"


def script_models(fake_llm: FakeLLM) -> None:
    """gpt-4o always right; gpt-4o-mini right on half the cities; an unpriced local model always right."""
    fake_llm.script.on(model="gpt-4o").respond("Paris")
    fake_llm.script.on(model="gpt-4o-mini", prompt_matches=r"city [01]\b").respond("Paris")
    fake_llm.script.on(model="gpt-4o-mini").respond("Lyon")
    fake_llm.script.on(model="acme-local-1").respond("Paris")


def test_model_matrix_table_pareto_json_and_exit_code(
    live: LiveContrail, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    script_models(fake_llm)
    out_json, summary, junit = tmp_path / "m.json", tmp_path / "summary.md", tmp_path / "j.xml"
    path = write(tmp_path, fake_llm, MODELS)
    result = invoke(live, "run", str(path), "--name", "cmp", "--json", str(out_json),
                    "--markdown", str(summary), "--junit", str(junit))  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "FAILED: [gpt-4o-mini] threshold exact.mean >= 0.8 failed (actual 0.500)" in result.output
    assert "[big]" not in result.output.split("FAILED", 1)[1]  # only the failing variant is named
    assert "Matrix on capitals (quality: exact)" in result.output
    assert "★ optimal" in result.output and "not compared" in result.output

    report = json.loads(out_json.read_text())
    assert report["passed"] is False and report["quality"] == "exact"
    assert report["objectives"] == {"quality": "max", "cost_usd_mean": "min", "latency_p50_ms": "min"}
    rows = {row["variant"]: row for row in report["variants"]}
    assert list(rows) == ["gpt-4o-mini", "big", "acme-local-1"]
    assert {name: row["experiment"] for name, row in rows.items()} == {
        "gpt-4o-mini": "cmp-gpt-4o-mini", "big": "cmp-big", "acme-local-1": "cmp-acme-local-1"
    }  # fmt: skip
    assert [rows[n]["means"]["exact"] for n in rows] == [0.5, 1.0, 1.0]
    assert [(rows[n]["items"], rows[n]["errors"]) for n in rows] == [(CITIES, 0)] * 3
    assert rows["big"]["target"] == {"model": "gpt-4o"} and rows["big"]["passed"] is True
    assert rows["gpt-4o-mini"]["passed"] is False
    # Cheapest and best are both optimal whatever the latencies; the unpriced model cannot be placed.
    assert report["pareto_front"] == ["gpt-4o-mini", "big"]
    assert rows["acme-local-1"]["pareto"] is False and "no cost" in rows["acme-local-1"]["not_compared"]
    assert rows["acme-local-1"]["cost_usd_total"] is None
    big_cost, mini_cost = (
        Decimal(rows["big"]["cost_usd_total"]),
        Decimal(rows["gpt-4o-mini"]["cost_usd_total"]),
    )
    assert Decimal(rows["big"]["cost_usd_mean"]) == big_cost / CITIES and mini_cost < big_cost
    per_call = [r for r in fake_llm.requests if r.model == "gpt-4o"]
    assert len(per_call) == CITIES
    assert all(rows[n]["latency_p50_ms"] <= rows[n]["latency_p95_ms"] for n in rows)

    text = summary.read_text()
    assert text.startswith("## ❌ Contrail eval matrix on `capitals` (3 variants)")
    assert "| big | `cmp-big` | 4 | 0 | 1.000 |" in text and "**★ optimal**" in text
    assert "- ❌ \\[gpt-4o-mini\\] threshold exact.mean &gt;= 0.8 failed" in text
    assert "## ✅ Contrail eval `cmp-big` on `capitals`" in text  # each variant's own summary follows
    suites = {s.get("name") for s in ET.fromstring(junit.read_bytes())}
    assert {"[big] thresholds", "[gpt-4o-mini] items (capitals)"} <= suites


def test_prompt_version_matrix(live: LiveContrail, fake_llm: FakeLLM, tmp_path: Path) -> None:
    with live.client() as http:
        first = {"name": "geo/capital", "type": "chat", "labels": ["production"],
                 "prompt": [{"role": "user", "content": "Capital of {{q}}?"}]}  # fmt: skip
        assert http.post("/api/v1/prompts", json=first).status_code == 201
        second = {
            **first,
            "labels": [],
            "prompt": [{"role": "user", "content": "One word: capital of {{q}}"}],
        }
        assert http.post("/api/v1/prompts", json=second).status_code == 201
    fake_llm.script.on(prompt_contains="One word").respond("Paris")
    fake_llm.script.on().respond("The capital is Paris.")
    target = (
        "{kind: prompt, prompt: geo/capital, label: production, model: gpt-4o-mini, "
        f"base_url: '{fake_llm.openai_base_url}'}}"
    )
    variants = "  - {label: production}\n  - {version: 2, name: terse}\n"
    path = write(tmp_path, fake_llm, variants, target=target, extra="thresholds: []\nmatrix_quality: exact\n")
    path.write_text(path.read_text().replace("thresholds: ['exact.mean >= 0.8']\n", ""))
    result = invoke(live, "run", str(path), "--name", "pv", "--json", str(tmp_path / "pv.json"))
    assert result.exit_code == 0, result.output
    assert "PASSED: all 2 variants" in result.output
    rows = {row["variant"]: row for row in json.loads((tmp_path / "pv.json").read_text())["variants"]}
    assert rows["production"]["means"]["exact"] == 0.0 and rows["terse"]["means"]["exact"] == 1.0
    assert rows["terse"]["pareto"] is True
    assert rows["terse"]["target"] == {"version": 2}

    async def versions() -> list[int]:
        async with EvalsClient(live.url, secret_key=live.secret_key) as client:
            found = [await client.find_experiment(name, "capitals") for name in ("pv-production", "pv-terse")]
        return [int(e["target"]["prompt_version"]) for e in found]

    assert asyncio.run(versions()) == [1, 2]


def _run(name: str, quality: list[float], cost: str | None, latency_ms: float) -> VariantVerdict:
    results = [
        ItemResult(
            item_id=f"i{i}",
            input={},
            output="x",
            latency_ms=latency_ms,
            cost_usd=None if cost is None else Decimal(cost),
            scores=(ScoreResult("judge", value=value),),
        )
        for i, value in enumerate(quality)
    ]
    run = ExperimentRun({"id": f"id-{name}", "name": f"base-{name}"}, "ds", results)
    return VariantVerdict(name, {"model": name}, judge(run, []))


def test_pareto_marks_dominated_variants_with_who_dominates_them() -> None:
    variants = [
        _run("best", [1.0, 0.8], "0.002", 900),
        _run("cheap", [0.4, 0.4], "0.0001", 300),
        _run("worse", [0.5, 0.5], "0.003", 950),  # worse than "best" on every objective
        _run("tie", [0.4, 0.4], "0.0001", 300),  # identical to "cheap": neither dominates the other
        _run("unpriced", [1.0, 1.0], None, 10),
    ]
    verdict = matrix_verdict("ds", variants, quality="judge")
    rows = {row.variant: row for row in verdict.rows}
    assert [name for name, row in rows.items() if row.pareto] == ["best", "cheap", "tie"]
    assert rows["worse"].dominated_by == ("best",) and rows["worse"].pareto_text == "dominated by best"
    assert rows["unpriced"].not_compared is not None and not rows["unpriced"].pareto
    assert rows["cheap"].cost_usd_mean == Decimal("0.0001") and rows["best"].means == {"judge": 0.9}
    assert verdict.to_json()["pareto_front"] == ["best", "cheap", "tie"]


def test_without_costs_the_front_uses_quality_and_latency() -> None:
    verdict = matrix_verdict(
        "ds", [_run("a", [1.0], None, 500), _run("b", [0.5], None, 600)], quality="judge"
    )
    assert verdict.objectives == {"quality": "max", "latency_p50_ms": "min"}
    assert [row.pareto for row in verdict.rows] == [True, False]
    assert verdict.rows[1].dominated_by == ("a",)


BASE = (
    "dataset: d\ntarget: {kind: prompt, model: m, messages: [{role: user, content: hi}]}\nscorers: [exact]\n"
)


@pytest.mark.parametrize(
    ("matrix", "line", "message"),
    [
        ("matrix: []\n", 4, "matrix: is empty; list at least one variant"),
        ("matrix:\n  - {model: a}\n  - {model: a}\n", 6, "matrix[1]: two variants are named 'a'"),
        ("matrix:\n  - {model: a, name: x}\n  - {model: b, name: x}\n", 6, "two variants are named 'x'"),
        ("matrix:\n  - {model: a}\n  - {kind: http, url: 'http://x'}\n", 6,
         "matrix[1]: a variant cannot change the target's kind (prompt -> http)"),
        ("matrix:\n  - {model: a}\n  - {function: 'm:f'}\n", 6, "a prompt target has no field 'function'"),
        ("matrix:\n  - {model: 3.5x}\n  - {params: {temperature: 1}}\n", 6,
         "matrix[1]: give this variant a `name:`"),
        ("matrix:\n  - {name: only-a-name}\n", 5, "matrix[0]: changes nothing"),
        ("matrix:\n  - {model: a, name: ''}\n", 5, "matrix[0].name: '' is not a short one-line name"),
        ("matrix:\n  - {model: [a]}\n", 5, "matrix[0].model: Input should be a valid string"),
        ("matrix: {model: a}\n", 4, "matrix: Input should be a valid list"),
    ],
)  # fmt: skip
def test_bad_matrix_is_a_config_error_with_its_line(
    tmp_path: Path, matrix: str, line: int, message: str
) -> None:
    path = tmp_path / "eval.yaml"
    path.write_text(BASE + matrix)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert message in str(caught.value)


def test_selector_of_a_variant_replaces_the_files(tmp_path: Path) -> None:
    path = tmp_path / "eval.yaml"
    path.write_text(
        "dataset: d\ntarget: {kind: prompt, model: m, prompt: p, label: production}\n"
        "matrix: [{version: 3}, {label: staging, model: n}]\n"
    )
    from contrail.evals.config import matrix_variants

    variants = matrix_variants(load_config(path))
    assert [v.name for v in variants] == ["v3", "staging-n"]
    first, second = (v.target for v in variants)
    assert (first.version, first.label, first.model) == (3, None, "m")  # type: ignore[union-attr]
    assert (second.version, second.label, second.model) == (None, "staging", "n")  # type: ignore[union-attr]


def test_bad_variant_target_and_quality_exit_2_before_anything_runs(
    live: LiveContrail, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    path = write(tmp_path, fake_llm, MODELS, extra="matrix_quality: telepathy\n")
    result = invoke(live, "run", str(path), "--name", "q")
    assert result.exit_code == 2, result.output
    assert f"{path}:6: matrix_quality: 'telepathy' is not the name of a scorer" in result.output
    missing = write(
        tmp_path, fake_llm, "  - {model: gpt-4o}\n", target="{kind: prompt, prompt: nope, model: m}"
    )
    result = invoke(live, "run", str(missing), "--name", "p")
    assert result.exit_code == 2 and f"{missing}:7: matrix[0]: " in result.output and "nope" in result.output
    assert "Traceback" not in result.output
    assert fake_llm.requests == []  # no variant ran


def test_the_docs_matrix_example_is_valid(tmp_path: Path) -> None:
    from contrail.evals.config import matrix_variants

    text = (Path(__file__).parents[2] / "docs" / "evals.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "matrix:" in b)
    path = tmp_path / "eval.yaml"
    path.write_text(block)
    assert [v.name for v in matrix_variants(load_config(path))] == [
        "gpt-4o-mini",
        "big",
        "v3",
        "staging-gpt-4o",
    ]
