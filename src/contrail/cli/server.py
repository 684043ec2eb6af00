"""`contrail server`: migrate, create the first project and key on first run, serve HTTP."""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

import click

from contrail.cli import credentials
from contrail.cli.context import CliState, pass_state


@click.command("server")
@click.option("--host", default=None, help="Address to listen on [default: CONTRAIL_BIND_HOST or 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: CONTRAIL_PORT or 7878].")
@click.option("--db", "database_url", default=None, help="Database URL [default: SQLite in CONTRAIL_HOME].")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Server processes [default: CONTRAIL_WORKERS or 1]. More use more cores, also on SQLite.",
)
@pass_state
def server_command(
    state: CliState, host: str | None, port: int | None, database_url: str | None, workers: int | None
) -> None:
    """Run the Contrail server (API, OTLP ingest and UI)."""
    if database_url:
        state.database_url = database_url
        os.environ["CONTRAIL_DATABASE_URL"] = database_url  # worker processes read their settings anew
    settings = state.settings()
    host = host or settings.bind_host
    port = port or settings.port
    check_port_free(host, port)
    state.engine().dispose()  # migrates, and creates the default project and key on first run
    _print_banner(
        f"http://{host}:{port}", credentials.load(settings.resolved_home()), settings.resolved_database_url()
    )

    import uvicorn

    workers = workers or settings.workers
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level.lower(),
        "access_log": False,
    }
    if workers > 1:
        uvicorn.run("contrail.server.app:create_worker_app", factory=True, workers=workers, **options)
        return
    from contrail.server.app import create_app

    uvicorn.run(create_app(settings, migrate=False), **options)


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn will: connections of a previous run lingering in TIME_WAIT do not block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"Port {port} on {host} is already in use. Stop the other process or pass --port."
                ) from exc
            raise click.ClickException(f"Cannot listen on {host}:{port} ({exc.strerror}).") from exc


def _print_banner(url: str, saved: dict[str, str] | None, database_url: str) -> None:
    from rich.console import Console
    from rich.panel import Panel

    lines = [
        f"[bold]Contrail[/] is running at [link={url}]{url}[/link]",
        f"Database: {_safe_url(database_url)}",
    ]
    if saved:
        lines += [
            f"Project: {saved.get('project', 'default')}",
            f"Public key: {saved.get('public_key')}",
            f"Secret key: {saved.get('secret_key')}",
            f"OTLP endpoint: {url}/v1/traces  (Authorization: Bearer <secret key>)",
        ]
    else:
        lines.append("Create an API key with: contrail keys create --project default")
    Console(stderr=True).print(Panel("\n".join(lines), expand=False))


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
