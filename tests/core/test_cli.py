"""The `contrail` command line, on a real SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from contrail.cli.main import cli
from contrail.schema.observation import Observation, ObservationType, Usage
from contrail.store.database import open_engine
from contrail.store.projects import DEFAULT_PROJECT, find_project
from contrail.store.writer import WriteBatch, write_group

TRACE = "ab" * 16


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONTRAIL_HOME", str(tmp_path))
    monkeypatch.delenv("CONTRAIL_DATABASE_URL", raising=False)
    return tmp_path


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _seed(home: Path) -> None:
    assert "migration" in _run("db", "upgrade")
    _run("keys", "list")  # first use: creates the default project
    engine = open_engine(f"sqlite:///{home / 'contrail.db'}")
    project = find_project(engine, DEFAULT_PROJECT)
    root = Observation(
        trace_id=TRACE,
        span_id="1" * 16,
        name="=cmd|' /C calc'!A0",
        start_us=1_760_000_000_000_000,
        end_us=1_760_000_001_000_000,
        input="[bold red]not markup[/]",
    )
    child = Observation(
        trace_id=TRACE,
        span_id="2" * 16,
        parent_span_id="1" * 16,
        name="llm",
        type=ObservationType.GENERATION,
        start_us=1_760_000_000_100_000,
        end_us=1_760_000_000_900_000,
        model_requested="gpt-4o",
        usage=Usage(10, 5),
    )
    write_group(engine, [WriteBatch(project.id, [root, child])], 1)
    engine.dispose()


def test_first_use_creates_the_default_project_and_a_key(home: Path) -> None:
    out = _run("keys", "list")
    assert "pk-ctl-" in out
    saved = json.loads((home / "first-run-credentials.json").read_text())
    assert saved["secret_key"].startswith("sk-ctl-")
    assert (home / "first-run-credentials.json").stat().st_mode & 0o077 == 0


def test_traces_list_show_and_export(home: Path, tmp_path: Path) -> None:
    _seed(home)
    assert TRACE in _run("traces", "list")
    shown = _run("traces", "show", TRACE)
    assert "generation llm gpt-4o" in shown
    assert "15 tok" in shown
    _run("export", "--what", "observations", "--format", "jsonl", "-o", str(tmp_path / "o.jsonl"))
    lines = (tmp_path / "o.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["span_id"] for line in lines) == ["1" * 16, "2" * 16]
    _run("export", "--format", "csv", "-o", str(tmp_path / "t.csv"))
    csv_text = (tmp_path / "t.csv").read_text()
    assert "'=cmd" in csv_text  # formula injection neutralised


def test_projects_and_keys_lifecycle(home: Path) -> None:
    created = _run("projects", "create", "shop")
    assert "Secret key: sk-ctl-" in created
    public_key = created.split("Public key: ")[1].split()[0]
    assert "shop" in _run("projects", "list")
    _run("keys", "revoke", public_key, "--project", "shop")
    assert "revoked" in _run("keys", "list", "--project", "shop")


def test_errors_say_how_to_fix_them(home: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["traces", "list", "--project", "nope"])
    assert missing.exit_code == 1
    assert "No project named 'nope'" in missing.output
    bad_time = runner.invoke(cli, ["traces", "list", "--since", "yesterday"])
    assert bad_time.exit_code == 2
    assert "RFC 3339" in bad_time.output
    unreachable = runner.invoke(cli, ["--db", "postgresql+psycopg://u@127.0.0.1:1/x", "traces", "list"])
    assert unreachable.exit_code == 1
    assert "Cannot reach PostgreSQL at 127.0.0.1:1" in unreachable.output
    assert "unset CONTRAIL_DATABASE_URL" in unreachable.output


def test_version() -> None:
    assert "contrail, version" in _run("--version")
