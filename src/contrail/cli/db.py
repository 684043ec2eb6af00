"""`contrail db upgrade` and `contrail db rebuild-rollups`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from contrail.cli.context import CliState, pass_state

if TYPE_CHECKING:
    from sqlalchemy import Engine

DAY_US = 86_400_000_000


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@pass_state
def upgrade_command(state: CliState) -> None:
    """Apply pending migrations."""
    engine = state.engine(migrate=False)
    from contrail.store.migrate import pending_revisions, upgrade

    pending = pending_revisions(engine)
    upgrade(engine)
    click.echo(
        f"Applied {len(pending)} migration(s); the schema is current." if pending else "Already current."
    )


@db_group.command("rebuild-rollups")
@click.option("--project", help="Project name or id (default: every project with observations).")
@click.option("--start", "start", help="First day to rebuild (RFC 3339 time or YYYY-MM-DD, UTC).")
@click.option("--end", "end", help="Rebuild up to this time (exclusive; widened to the end of its day).")
@pass_state
def rebuild_rollups_command(state: CliState, project: str | None, start: str | None, end: str | None) -> None:
    """Recompute the metric rollups from the stored observations and the trace rollups from the
    stored traces, one UTC day per transaction.

    Safe while the server runs: each day's rebuild holds the write lock (SQLite) or locks the rollup
    tables against writers (PostgreSQL) for that day only, so spans arriving meanwhile count once.
    """
    start_us, end_us = _when("--start", start), _when("--end", end)
    if start_us is not None and end_us is not None and start_us >= end_us:
        raise click.BadParameter("must be after --start", param_hint="--end")
    engine = state.engine()
    try:
        projects = [state.project_id(engine, project)] if project else _projects_with_data(engine)
        for project_id in projects:
            days = _days(engine, project_id, start_us, end_us)
            if not days:
                click.echo(f"Project {project_id}: no observations in the range.")
                continue
            with click.progressbar(days, label=f"Project {project_id}: {len(days)} day(s)") as bar:
                for day in bar:
                    _rebuild_day(engine, project_id, day)
    finally:
        engine.dispose()
    click.echo(f"Rebuilt the rollups of {len(projects)} project(s).")


def _when(option: str, value: str | None) -> int | None:
    if value is None:
        return None
    from contrail.schema.timeconv import rfc3339_to_us

    try:
        return rfc3339_to_us(value.strip())  # a bare date is midnight UTC
    except (ValueError, OverflowError) as exc:
        raise click.BadParameter(
            f"{value!r} is not an RFC 3339 time or a YYYY-MM-DD date", param_hint=option
        ) from exc


def _projects_with_data(engine: Engine) -> list[str]:
    from sqlalchemy import select

    from contrail.store.tables import observations

    with engine.connect() as connection:
        found = connection.execute(select(observations.c.project_id).distinct()).scalars().all()
    return sorted(found)


def _days(engine: Engine, project_id: str, start_us: int | None, end_us: int | None) -> list[int]:
    """Day starts (µs) covering [start_us, end_us) narrowed to the project's observations (so an open
    or enormous range costs only the days that hold data)."""
    from sqlalchemy import func, select

    from contrail.store.tables import observations

    c = observations.c
    with engine.connect() as connection:
        low, high = connection.execute(
            select(func.min(c.start_us), func.max(c.start_us)).where(c.project_id == project_id)
        ).one()
    if low is None:
        return []
    start_us = low if start_us is None else max(start_us, low)
    end_us = high + 1 if end_us is None else min(end_us, high + 1)
    return list(range(start_us // DAY_US * DAY_US, end_us, DAY_US))


def _rebuild_day(engine: Engine, project_id: str, day_us: int) -> None:
    from sqlalchemy import text

    from contrail.analytics.rollups import rebuild_rollups
    from contrail.store.database import writing

    with writing(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            # Writers fold spans into the rollups in the transaction that inserts them: waiting for
            # them here, and holding them off until the day is rebuilt, counts every span once.
            # Both in the writer's order (metric rollups first), so neither side waits on the other.
            connection.execute(text("LOCK TABLE metric_rollups, trace_rollups IN EXCLUSIVE MODE"))
        rebuild_rollups(connection, project_id, day_us, day_us + DAY_US)
