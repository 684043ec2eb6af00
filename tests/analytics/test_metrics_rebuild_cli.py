"""`contrail db rebuild-rollups`: recomputes the metric rollups from the observations, per day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete, func, select

from contrail.store.rollup_tables import SUMMED, metric_rollups
from tests.analytics.test_metrics import HOUR_US, START, _event, _seed
from tests.conftest import LiveContrail

DAY_US = 24 * HOUR_US


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONTRAIL_HOME", str(tmp_path / "cli-home"))
    return tmp_path


def _invoke(url: str, *args: str) -> Result:
    from contrail.cli.main import cli

    return CliRunner().invoke(cli, ["--db", url, "db", "rebuild-rollups", *args], catch_exceptions=False)


def _rollups(live: LiveContrail) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """Summed rollup columns per (grain, bucket, dimensions key) of the test's project."""
    engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
    c = metric_rollups.c
    keys = (c.grain_us, c.bucket_us, c.dims_key)
    with engine.connect() as connection:
        rows = connection.execute(
            select(*keys, *(func.sum(c[name]) for name in SUMMED))
            .where(c.project_id == live.project_id)
            .group_by(*keys)
        ).all()
    return {tuple(r[:3]): tuple(int(v or 0) for v in r[3:]) for r in rows}


def _wipe(live: LiveContrail) -> None:
    engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(delete(metric_rollups).where(metric_rollups.c.project_id == live.project_id))


def test_rebuild_restores_the_rollups_day_by_day(contrail: LiveContrail, home: Path) -> None:
    url = str(contrail.app.state.contrail.settings.resolved_database_url())  # type: ignore[attr-defined]
    with contrail.client() as client:
        _seed(client)  # one day
        later = [_event(20, START + 2 * DAY_US, 70, model_requested="gpt-4o", cost_usd="0.5")]
        assert client.post("/api/v1/ingest", json={"batch": later}).status_code == 207
    before = _rollups(contrail)
    assert before
    _wipe(contrail)
    assert _rollups(contrail) == {}

    result = _invoke(url, "--project", contrail.project_id)
    assert result.exit_code == 0, result.output
    assert "3 day(s)" in result.output and "Rebuilt the rollups of 1 project(s)." in result.output
    assert _rollups(contrail) == before

    # Only the later day: the first day's rows stay wiped, the later day's come back.
    _wipe(contrail)
    day = "2025-10-11"
    result = _invoke(url, "--project", contrail.project_id, "--start", day, "--end", "2025-10-12T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert "1 day(s)" in result.output
    assert _rollups(contrail) == {
        k: v for k, v in before.items() if k[1] >= START - START % DAY_US + 2 * DAY_US
    }

    # A range beyond the data only visits the days holding observations.
    result = _invoke(url, "--project", contrail.project_id, "--start", "1970-01-02", "--end", "9999-01-01")
    assert result.exit_code == 0, result.output
    assert "3 day(s)" in result.output
    assert _rollups(contrail) == before


def test_bad_arguments_are_clear_errors(sqlite_contrail: LiveContrail, home: Path) -> None:
    url = str(sqlite_contrail.app.state.contrail.settings.resolved_database_url())  # type: ignore[attr-defined]
    reversed_range = _invoke(url, "--start", "2026-02-01", "--end", "2026-01-01")
    assert reversed_range.exit_code == 2
    assert "--end" in reversed_range.output and "must be after --start" in reversed_range.output
    garbage = _invoke(url, "--start", "yesterday")
    assert garbage.exit_code == 2 and "'yesterday' is not an RFC 3339 time" in garbage.output
    unknown = _invoke(url, "--project", "no-such-project")
    assert unknown.exit_code == 1 and "No project named 'no-such-project'" in unknown.output
    empty = _invoke(url, "--project", sqlite_contrail.project_id)
    assert empty.exit_code == 0 and "no observations in the range" in empty.output
