"""`contrail eval run` / `contrail eval compare` against a live server: exit codes, reports, errors."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import contrail
from contrail.cli.main import cli
from contrail.evals.client import EvalsClient
from contrail.sdk import tracer as _tracer
from tests.conftest import LiveContrail

APP = """
def answer(input):
    return input["q"].upper() if {good} else "nope"
"""


@pytest.fixture
def live(sqlite_contrail: LiveContrail) -> Iterator[LiveContrail]:
    previous = _tracer.STATE
    asyncio.run(_dataset(sqlite_contrail))
    try:
        yield sqlite_contrail
    finally:
        contrail.shutdown(5)
        _tracer.STATE = previous


async def _dataset(live: LiveContrail) -> None:
    async with EvalsClient(live.url, secret_key=live.secret_key) as client:
        await client.create_dataset("qa")
        items = [{"id": f"i{i}", "input": {"q": f"q{i}"}, "expected_output": f"Q{i}"} for i in range(6)]
        await client.upsert_items("qa", items)


def eval_file(tmp_path: Path, *, good: bool = True, extra: str = "") -> Path:
    module = f"app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(APP.format(good=good))
    path = tmp_path / f"{module}.yaml"
    path.write_text(
        f"dataset: qa\ntarget: {{kind: python, function: '{module}:answer'}}\n"
        "scorers: [{type: exact}]\nthresholds: ['exact.mean >= 0.8']\n" + extra
    )
    return path


def invoke(live: LiveContrail, *args: str) -> Result:
    env = {"CONTRAIL_SECRET_KEY": live.secret_key, "CONTRAIL_PUBLIC_KEY": ""}
    return CliRunner().invoke(cli, ["eval", *args, "--host", live.url], env=env)


def test_passing_run_writes_junit_and_markdown(live: LiveContrail, tmp_path: Path) -> None:
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = invoke(live, "run", str(eval_file(tmp_path)), "--name", "ok-run", "--junit", str(junit),
                    "--markdown", str(summary))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output and "exact.mean" in result.output
    suites = {s.get("name"): s for s in ET.fromstring(junit.read_bytes())}
    assert suites["items (qa)"].get("tests") == "6" and suites["items (qa)"].get("failures") == "0"
    text = summary.read_text()
    assert text.startswith("earlier step\n## ✅ Contrail eval `ok-run` on `qa`")  # appended
    assert "| `exact.mean >= 0.8` | 1.000 | pass |" in text


def test_failed_threshold_exits_1(live: LiveContrail, tmp_path: Path) -> None:
    result = invoke(live, "run", str(eval_file(tmp_path, good=False)), "--name", "bad-run")
    assert result.exit_code == 1, result.output
    assert "FAILED: threshold exact.mean >= 0.8 failed (actual 0.000)" in result.output


def test_significant_regression_against_the_baseline_exits_1(live: LiveContrail, tmp_path: Path) -> None:
    assert invoke(live, "run", str(eval_file(tmp_path)), "--name", "main").exit_code == 0
    extra = "baseline: main\nmax_error_rate: 0\n"
    path = eval_file(tmp_path, good=False, extra=extra.replace("", ""))
    path.write_text(path.read_text().replace("thresholds: ['exact.mean >= 0.8']\n", ""))
    result = invoke(live, "run", str(path), "--name", "pr-1", "--markdown", str(tmp_path / "s.md"))
    assert result.exit_code == 1, result.output
    assert "FAILED: exact regressed against the baseline" in result.output
    assert "**regressed**" in (tmp_path / "s.md").read_text()
    compared = invoke(live, "compare", "main", "pr-1", "--dataset", "qa")
    assert compared.exit_code == 0, compared.output
    assert "exact" in compared.output and "regressed" in compared.output


def test_resume_flag_continues_the_named_experiment(live: LiveContrail, tmp_path: Path) -> None:
    path = eval_file(tmp_path)
    assert invoke(live, "run", str(path), "--name", "again").exit_code == 0
    conflict = invoke(live, "run", str(path), "--name", "again")
    assert conflict.exit_code == 2 and "HTTP 409" in conflict.output
    resumed = invoke(live, "run", str(path), "--name", "again", "--resume")
    assert resumed.exit_code == 0, resumed.output


def test_bad_yaml_names_file_and_line(live: LiveContrail, tmp_path: Path) -> None:
    path = tmp_path / "eval.yaml"
    path.write_text("dataset: qa\ntarget:\n  kind: python\n  function: m:f\nthreshold: [x]\n")
    result = invoke(live, "run", str(path))
    assert result.exit_code == 2
    assert f"{path}:5: threshold: Extra inputs are not permitted" in result.output
    assert "Traceback" not in result.output


def test_bad_target_and_scorer_are_config_errors(live: LiveContrail, tmp_path: Path) -> None:
    path = tmp_path / "eval.yaml"
    path.write_text("dataset: qa\ntarget: {kind: python, function: 'no_such_module:f'}\n")
    result = invoke(live, "run", str(path))
    assert result.exit_code == 2 and f"{path}:2: target: cannot import 'no_such_module'" in result.output
    path.write_text(eval_file(tmp_path).read_text().replace("exact", "telepathy"))
    result = invoke(live, "run", str(path))
    assert result.exit_code == 2 and "unknown scorer type 'telepathy'" in result.output


def test_unknown_dataset_and_unreachable_server(live: LiveContrail, tmp_path: Path) -> None:
    path = eval_file(tmp_path)
    path.write_text(path.read_text().replace("dataset: qa", "dataset: nope"))
    result = invoke(live, "run", str(path))
    assert result.exit_code == 2 and "nope" in result.output and "HTTP 404" in result.output
    result = CliRunner().invoke(
        cli, ["eval", "run", str(eval_file(tmp_path)), "--host", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 2
    assert "Cannot reach Contrail at http://127.0.0.1:9" in result.output
