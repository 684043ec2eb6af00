"""`contrail prices import` and `contrail prices recalculate` on a real SQLite database."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contrail.analytics.overrides import list_overrides
from contrail.schema.observation import Observation, ObservationType, Usage
from contrail.store.database import open_engine
from contrail.store.projects import DEFAULT_PROJECT, find_project
from contrail.store.queries import get_trace
from contrail.store.writer import WriteBatch, write_group
from tests.analytics.test_overrides import SELF_HOSTED

START = 1_775_000_000_000_000  # 2026-03-31, the January price of SELF_HOSTED


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONTRAIL_HOME", str(tmp_path))
    monkeypatch.delenv("CONTRAIL_DATABASE_URL", raising=False)
    return tmp_path


def _invoke(*args: str) -> Result:
    from contrail.cli.main import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_import_then_recalculate(home: Path) -> None:
    assert _invoke("keys", "list").exit_code == 0  # first use: the default project
    engine = open_engine(f"sqlite:///{home / 'contrail.db'}")
    project = find_project(engine, DEFAULT_PROJECT).id
    call = Observation(
        trace_id="ab" * 16,
        span_id="1" * 16,
        name="llm",
        type=ObservationType.GENERATION,
        start_us=START,
        end_us=START + 1000,
        model_requested="acme-llama",
        usage=Usage(2_000_000, 1_000_000),
    )
    write_group(engine, [WriteBatch(project, [call])], 1)
    path = home / "prices.json"
    path.write_text(json.dumps(SELF_HOSTED))

    imported = _invoke("prices", "import", str(path))
    assert imported.exit_code == 0, imported.output
    assert "1 added, 0 replaced (version 1)" in imported.output
    result = _invoke(
        "prices", "recalculate", "--start", "2026-03-01T00:00:00Z", "--end", "2026-05-01T00:00:00Z"
    )
    assert result.exit_code == 0, result.output
    assert "changed: 1" in result.output
    trace = get_trace(engine, project, "ab" * 16)
    assert trace is not None and Decimal(trace["total_cost_usd"]) == Decimal("2.00")
    engine.dispose()


def test_a_malformed_file_imports_nothing_and_lists_every_problem(home: Path) -> None:
    good, bad = home / "good.json", home / "bad.json"
    good.write_text(json.dumps(SELF_HOSTED))
    assert _invoke("prices", "import", str(good)).exit_code == 0
    document = json.loads(json.dumps(SELF_HOSTED))
    document["entries"][0]["prices"][0]["input"] = "-0.5"
    document["entries"].append({"model": "x", "provider": "Not A Provider!", "prices": []})
    bad.write_text(json.dumps(document))
    result = _invoke("prices", "import", str(bad))
    assert result.exit_code == 1
    assert "3 problem(s)" in result.output and "Nothing was imported." in result.output
    assert "entries[0].prices[0].input" in result.output and "entries[1].provider" in result.output
    (home / "broken.json").write_text('{"entries": [')
    assert "not valid JSON" in _invoke("prices", "import", str(home / "broken.json")).output
    assert "cannot read" in _invoke("prices", "import", str(home / "missing.json")).output
    engine = open_engine(f"sqlite:///{home / 'contrail.db'}")
    version, stored = list_overrides(engine, find_project(engine, DEFAULT_PROJECT).id)
    assert version == 1 and stored[0].entry.periods[0].rates.input == Decimal("0.50")
    engine.dispose()


def test_recalculate_refuses_bad_ranges(home: Path) -> None:
    reversed_range = _invoke("prices", "recalculate", "--start", "2026-02-01", "--end", "2026-01-01")
    assert reversed_range.exit_code == 1 and "end must be after start" in reversed_range.output
    enormous = _invoke("prices", "recalculate", "--start", "2020-01-01", "--end", "2026-01-01")
    assert enormous.exit_code == 1 and "366 days" in enormous.output
    not_a_time = _invoke("prices", "recalculate", "--start", "soon", "--end", "2026-01-01")
    assert not_a_time.exit_code == 2 and "RFC 3339" in not_a_time.output
