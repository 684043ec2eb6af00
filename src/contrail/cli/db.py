"""`contrail db upgrade`."""

from __future__ import annotations

import click

from contrail.cli.context import CliState, pass_state


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
