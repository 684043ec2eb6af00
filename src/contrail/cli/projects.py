"""`contrail projects ...` and `contrail keys ...`."""

from __future__ import annotations

import click

from contrail.cli.context import CliState, pass_state
from contrail.cli.output import print_table
from contrail.schema.timeconv import us_to_rfc3339


@click.group("projects")
def projects_group() -> None:
    """Create and list projects."""


@projects_group.command("create")
@click.argument("name")
@pass_state
def create_project_command(state: CliState, name: str) -> None:
    """Create a project and its first API key (the secret is shown once)."""
    from contrail.store.projects import ProjectError, create_key, create_project

    engine = state.engine()
    try:
        project = create_project(engine, name)
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from exc
    issued = create_key(engine, project.id)
    click.echo(f"Project {project.name} ({project.id})")
    click.echo(f"Public key: {issued.key.public_key}")
    click.echo(f"Secret key: {issued.secret_key}   (shown once; store it now)")


@projects_group.command("list")
@pass_state
def list_projects_command(state: CliState) -> None:
    """List projects."""
    from contrail.store.projects import list_projects

    rows = [(p.name, p.id, us_to_rfc3339(p.created_us) or "") for p in list_projects(state.engine())]
    print_table("Projects", ("name", "id", "created"), rows)


@click.group("keys")
def keys_group() -> None:
    """Create, list and revoke API keys."""


project_option = click.option("--project", default="default", show_default=True, help="Project name or id.")


@keys_group.command("create")
@project_option
@click.option("--note", default=None, help="What the key is for.")
@pass_state
def create_key_command(state: CliState, project: str, note: str | None) -> None:
    """Create a key pair (the secret is shown once)."""
    from contrail.store.projects import create_key

    engine = state.engine()
    issued = create_key(engine, state.project_id(engine, project), note)
    click.echo(f"Public key: {issued.key.public_key}")
    click.echo(f"Secret key: {issued.secret_key}   (shown once; store it now)")


@keys_group.command("list")
@project_option
@pass_state
def list_keys_command(state: CliState, project: str) -> None:
    """List a project's keys (secrets are never shown)."""
    from contrail.store.projects import list_keys

    engine = state.engine()
    rows = [
        (
            k.public_key,
            k.secret_hint,
            k.note or "",
            us_to_rfc3339(k.created_us) or "",
            "revoked" if k.revoked_us else "active",
        )
        for k in list_keys(engine, state.project_id(engine, project))
    ]
    print_table("API keys", ("public key", "secret", "note", "created", "state"), rows)


@keys_group.command("revoke")
@click.argument("public_key")
@project_option
@pass_state
def revoke_key_command(state: CliState, public_key: str, project: str) -> None:
    """Revoke a key; servers stop accepting it within CONTRAIL_KEY_CACHE_SECONDS."""
    from contrail.store.projects import ProjectError, revoke_key

    engine = state.engine()
    try:
        revoke_key(engine, state.project_id(engine, project), public_key)
    except ProjectError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Revoked {public_key}.")
