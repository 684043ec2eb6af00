"""eval.yaml options around targets and the gate: HTTP headers from environment variables (never in the
file or the experiment record), and a per-metric direction and alpha for the baseline comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from contrail.evals.config import ConfigError, build_target, gated, load_config
from contrail.evals.reports import Comparison
from contrail.evals.targets import HttpTarget


def _file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "eval.yaml"
    path.write_text("dataset: qa\n" + body)
    return path


def test_headers_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _file(
        tmp_path,
        "target: {kind: http, url: 'http://127.0.0.1:9/answer', headers: {X-Team: evals},"
        " headers_env: {Authorization: MY_TOKEN_ENV}}\n",
    )
    monkeypatch.setenv("MY_TOKEN_ENV", "Bearer s3cret")
    target = build_target(load_config(path), tmp_path)
    assert isinstance(target, HttpTarget)
    assert target.headers == {"X-Team": "evals", "Authorization": "Bearer s3cret"}
    assert "s3cret" not in str(target.describe())
    monkeypatch.delenv("MY_TOKEN_ENV")
    with pytest.raises(ValueError, match=r"MY_TOKEN_ENV \(for header Authorization\) is not set"):
        build_target(load_config(path), tmp_path)


def _row(metric: str, diff: float, p_value: float) -> Comparison:
    return Comparison(metric, 0.5, 0.5 + diff, diff, None, None, p_value, p_value < 0.05, False, ("item-1",))


def test_direction_and_alpha_rejudge_the_comparison() -> None:
    rows = [
        _row("latency", 0.2, 0.01),
        _row("exact", -0.1, 0.03),
        _row("cost", -0.3, 0.001),
        _row("f1", -0.2, 0.2),
    ]
    gates = load_config_gates(
        {"latency": {"direction": "lower"}, "exact": {"alpha": 0.01}, "cost": {"direction": "lower"}}
    )
    out = {r.metric: r for r in gated(rows, gates)}
    assert out["latency"].regressed and out["latency"].regressed_items == ()  # went up: worse
    assert not out["exact"].regressed and not out["exact"].significant  # p 0.03 is not below 0.01
    assert not out["cost"].regressed  # went down: better
    assert out["f1"] is rows[3]  # not gated: the server's verdict stands


def load_config_gates(raw: dict[str, dict[str, object]]) -> dict[str, object]:
    from contrail.evals.config import EvalConfig

    config = EvalConfig.model_validate(
        {"dataset": "qa", "target": {"kind": "python", "function": "m:f"}, "regression": raw}
    )
    return dict(config.regression)


def test_bad_gate_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "target: {kind: python, function: 'm:f'}\nregression:\n  latency: {direction: sideways}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "eval.yaml:4: regression.latency.direction" in str(caught.value)
    with pytest.raises(ConfigError, match="alpha"):
        load_config(_file(tmp_path, "target: {kind: python, function: 'm:f'}\nregression: {x: {alpha: 2}}\n"))
