"""The `contrail` command. Each subcommand is a thin call into a package; heavy imports are lazy."""

from __future__ import annotations

import logging

import click

from contrail._version import __version__
from contrail.cli.context import CliState


@click.group()
@click.version_option(__version__, prog_name="contrail")
@click.option("--db", "database_url", default=None, envvar="CONTRAIL_DATABASE_URL", help="Database URL.")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """Contrail: tracing, cost analytics, prompts and evaluations for LLM applications."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx.ensure_object(CliState).database_url = database_url


def _register() -> None:
    from contrail.cli.datasets import datasets_group
    from contrail.cli.db import db_group
    from contrail.cli.demo import demo_command
    from contrail.cli.doctor import doctor_command
    from contrail.cli.evals import eval_group
    from contrail.cli.prices import prices_group
    from contrail.cli.projects import keys_group, projects_group
    from contrail.cli.prompts import prompts_group
    from contrail.cli.server import server_command
    from contrail.cli.traces import export_command, traces_group
    from contrail.cli.users import users_group
    from contrail.cli.worker import worker_command

    for command in (
        server_command,
        db_group,
        projects_group,
        keys_group,
        traces_group,
        export_command,
        doctor_command,
        prices_group,
        demo_command,
        users_group,
        eval_group,
        datasets_group,
        worker_command,
        prompts_group,
    ):
        cli.add_command(command)
    try:
        from contrail.cli.fake_llm import fake_llm_group
        from contrail.cli.local import local_group
    except ImportError:  # pragma: no cover - only without the server extra
        return
    cli.add_command(fake_llm_group)
    cli.add_command(local_group)


_register()
