"""`contrail users ...`: people who sign in to the Web UI, and their role per project."""

from __future__ import annotations

import sys

import click

from contrail.cli.context import CliState, pass_state
from contrail.cli.output import print_table
from contrail.schema.timeconv import us_to_rfc3339


@click.group("users")
def users_group() -> None:
    """Create and list Web UI users."""


@users_group.command("create")
@click.option("--email", required=True, help="The e-mail the user signs in with.")
@click.option(
    "--role",
    type=click.Choice(["viewer", "member", "admin"]),
    default="member",
    show_default=True,
    help="viewer reads; member also manages API keys; admin also manages members.",
)
@click.option("--project", default="default", show_default=True, help="Project name or id.")
@click.option("--superuser", is_flag=True, help="Admin of every project; may create projects.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input instead of generating one."
)
@pass_state
def create_user_command(
    state: CliState, email: str, role: str, project: str, superuser: bool, password_stdin: bool
) -> None:
    """Create a user with a role in a project (an existing user just gets the role).

    A generated password is printed once unless --password-stdin is given.
    """
    from contrail.store import accounts

    engine = state.engine()
    project_id = state.project_id(engine, project)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        user = accounts.find_user(engine, email)
        created = user is None
        generated = password is None
        if user is None:
            password = password or accounts.generate_password()
            user = accounts.create_user(engine, email, password, superuser=superuser)
        accounts.set_role(engine, user.id, project_id, accounts.check_role(role))
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'Created' if created else 'Updated'} {user.email}: {role} of project {project}")
    if created and generated:
        click.echo(f"Password: {password}   (shown once; they can change it under Settings → Account)")


@users_group.command("set-password")
@click.option("--email", required=True)
@pass_state
def set_password_command(state: CliState, email: str) -> None:
    """Give a user a new generated password (printed once) and end their sessions."""
    from contrail.store import accounts

    engine = state.engine()
    user = accounts.find_user(engine, email)
    if user is None:
        raise click.ClickException(f"No user {email!r}. See `contrail users list`.")
    password = accounts.generate_password()
    accounts.set_password(engine, user.id, password)
    click.echo(f"Password: {password}   (shown once)")


@users_group.command("list")
@pass_state
def list_users_command(state: CliState) -> None:
    """List users."""
    from contrail.store import accounts

    rows = [
        (u.email, "yes" if u.is_superuser else "", us_to_rfc3339(u.created_us) or "")
        for u in accounts.list_users(state.engine())
    ]
    print_table("Users", ("email", "superuser", "created"), rows)
