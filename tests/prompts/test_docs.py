"""docs/prompts.md stays true: its quickstart runs against a live server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import contrail
from contrail.sdk import tracer as _tracer
from tests.conftest import LiveContrail

DOC = Path(__file__).resolve().parents[2] / "docs" / "prompts.md"


@pytest.fixture(autouse=True)
def _fresh_tracer() -> Iterator[None]:
    yield
    tracer, _tracer.STATE = _tracer.STATE, None
    if tracer is not None and tracer.exporter is not None:
        tracer.exporter.shutdown(timeout=0.2)


def test_quickstart_runs(sqlite_contrail: LiveContrail, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite_contrail.client() as http:
        body = {"name": "support/triage", "prompt": "Triage: {{ticket}}", "labels": ["production"]}
        assert http.post("/api/v1/prompts", json=body).status_code == 201
    contrail.configure(host=sqlite_contrail.url, secret_key=sqlite_contrail.secret_key)
    match = re.search(r"## Quickstart\n\n.*?```python\n(.*?)```", DOC.read_text(), re.S)
    assert match is not None
    exec(compile(match.group(1), str(DOC), "exec"), {})
    assert capsys.readouterr().out == "1 Triage: My parcel never arrived\n"
