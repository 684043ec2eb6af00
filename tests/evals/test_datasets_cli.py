"""`contrail datasets` against a live server: create, import (one request or checked batches), export,
list, add-from-traces, and clear messages for bad files and missing keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contrail.cli import datasets as cli_datasets
from contrail.cli.main import cli
from tests.conftest import LiveContrail

Invoke = Callable[..., Result]


@pytest.fixture
def run(sqlite_contrail: LiveContrail, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("CONTRAIL_HOST", sqlite_contrail.url)
    monkeypatch.setenv("CONTRAIL_PUBLIC_KEY", sqlite_contrail.public_key)
    monkeypatch.setenv("CONTRAIL_SECRET_KEY", sqlite_contrail.secret_key)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["datasets", *args], catch_exceptions=False)

    return invoke


def test_import_export_list(run: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"input": f"q{n}", "expected_output": f"a{n}", "id": f"i{n}"} for n in range(25)]
    source = tmp_path / "golden.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    created = run("create", "team/golden", "--description", "hand-made")
    small = run("import", "team/golden", str(source))
    monkeypatch.setattr(cli_datasets, "_SINGLE_REQUEST_BYTES", 100)
    monkeypatch.setattr(cli_datasets, "_BATCH_ITEMS", 10)
    rows[0]["expected_output"] = "changed"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    batched = run("import", "team/golden", str(source))
    out = tmp_path / "out.csv"
    exported = run("export", "team/golden", "--format", "csv", "-o", str(out))
    listed = run("list")
    assert created.exit_code == 0, created.output
    assert "25 created" in small.output and "version 1" in small.output
    assert "1 updated, 24 unchanged" in batched.output
    assert exported.exit_code == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("id,input") and lines[1].startswith("i0,q0,changed") and len(lines) == 26
    assert "team/golden" in listed.output and "hand-made" in listed.output


def test_bad_files_are_reported_by_line_and_nothing_is_sent(
    run: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"input": 1}\n{"input": 2\n{"nope": 3}\n')
    run("create", "ds")
    single = run("import", "ds", str(source))
    monkeypatch.setattr(cli_datasets, "_SINGLE_REQUEST_BYTES", 10)
    batched = run("import", "ds", str(source))
    missing = run("import", "nope", str(tmp_path / "absent.jsonl"))
    listed = run("list")
    for result in (single, batched):
        assert result.exit_code == 1
        assert "line 2" in result.output and "line 3" in result.output
    assert missing.exit_code == 2
    assert " 0 " in listed.output


def test_add_from_traces_and_missing_key(
    run: Invoke, sqlite_contrail: LiveContrail, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = {
        "id": "e",
        "type": "observation",
        "body": {
            "trace_id": "ab" * 16,
            "span_id": "cd" * 8,
            "name": "root",
            "start_us": 1_760_000_000_000_000,
            "tags": ["keep"],
            "input": "hello",
            "output": "world",
        },
    }
    with sqlite_contrail.client() as client:
        assert client.post("/api/v1/ingest", json={"batch": [event]}).status_code == 207
    run("create", "prod")
    added = run("add-from-traces", "prod", "--tag", "keep")
    none = run("add-from-traces", "prod", "--tag", "absent")
    both = run("add-from-traces", "prod", "--tag", "keep", "--trace-id", "ab" * 16)
    monkeypatch.delenv("CONTRAIL_SECRET_KEY")
    no_key = run("list")
    assert "1 created" in added.output
    assert "0 created" in none.output
    assert both.exit_code == 2
    assert no_key.exit_code == 1 and "CONTRAIL_SECRET_KEY" in no_key.output
