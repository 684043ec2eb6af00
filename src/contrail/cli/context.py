"""What CLI commands share: settings, the database, and errors that say how to fix them."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from contrail.server.settings import Settings

SERVER_EXTRA_HINT = "This command needs the server extra: pip install 'contrail-llmops[server]'"


def require_server_extra() -> None:
    """Raise a ClickException naming the pip command when the server dependencies are missing."""
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"{SERVER_EXTRA_HINT} (missing module {exc.name!r}).") from exc


@dataclasses.dataclass
class CliState:
    database_url: str | None = None

    def settings(self) -> Settings:
        require_server_extra()
        from contrail.server.settings import Settings

        overrides = {"database_url": self.database_url} if self.database_url else {}
        return Settings(**overrides)  # type: ignore[arg-type]

    def engine(self, *, migrate: bool = True) -> Engine:
        """The database engine, migrated to the newest schema unless ``migrate`` is False."""
        from contrail.store.database import DatabaseUnavailableError, open_engine
        from contrail.store.migrate import upgrade

        settings = self.settings()
        try:
            engine = open_engine(
                settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous
            )
        except DatabaseUnavailableError as exc:
            raise click.ClickException(str(exc)) from exc
        if migrate:
            upgrade(engine)
            _first_run(engine, settings)
        return engine

    def project_id(self, engine: Engine, project: str) -> str:
        from contrail.store.projects import ProjectError, find_project

        try:
            return find_project(engine, project).id
        except ProjectError as exc:
            raise click.ClickException(str(exc)) from exc


pass_state = click.make_pass_decorator(CliState, ensure=True)


def _first_run(engine: Engine, settings: Settings) -> None:
    """Create the default project and key, and the first admin user, on first use; keep their
    secrets for the start-up banner."""
    from contrail.cli import credentials
    from contrail.store.accounts import ensure_first_admin
    from contrail.store.projects import DEFAULT_PROJECT, ensure_default_project

    issued = ensure_default_project(engine)
    admin = ensure_first_admin(engine)
    if issued is None and admin is None:
        return
    home = settings.resolved_home()
    saved = credentials.load(home) or {}
    if issued is not None:
        saved.update(project=DEFAULT_PROJECT, public_key=issued.key.public_key, secret_key=issued.secret_key)
    if admin is not None:
        saved.update(admin_email=admin[0].email, admin_password=admin[1])
    credentials.save(home, saved)
