"""`contrail doctor`: is everything in place to run Contrail?"""

from __future__ import annotations

import platform

import click

from contrail._version import __version__
from contrail.cli.context import CliState, pass_state, require_server_extra


@click.command("doctor")
@pass_state
def doctor_command(state: CliState) -> None:
    """Check the database, migrations, port and versions; exit 1 if something needs fixing."""
    require_server_extra()
    import sqlalchemy

    from contrail.cli.server import check_port_free
    from contrail.store.database import DatabaseUnavailableError, open_engine
    from contrail.store.migrate import pending_revisions

    settings = state.settings()
    problems = 0

    def report(ok: bool, what: str, detail: str) -> None:
        nonlocal problems
        problems += not ok
        mark = click.style("ok  ", fg="green") if ok else click.style("FAIL", fg="red")
        click.echo(f"{mark} {what}: {detail}")

    report(
        True,
        "versions",
        f"contrail {__version__}, Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}",
    )
    try:
        engine = open_engine(settings.resolved_database_url())
        report(True, "database", f"{engine.dialect.name} reachable")
        pending = pending_revisions(engine)
        report(
            not pending,
            "migrations",
            "current" if not pending else f"{len(pending)} pending: run contrail db upgrade",
        )
    except DatabaseUnavailableError as exc:
        report(False, "database", str(exc))
    try:
        check_port_free(settings.bind_host, settings.port)
        report(True, "port", f"{settings.bind_host}:{settings.port} is free")
    except click.ClickException as exc:
        report(False, "port", exc.message)
    if problems:
        raise SystemExit(1)
