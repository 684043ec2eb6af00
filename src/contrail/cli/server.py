"""`contrail server`: migrate, create the first project and key on first run, serve HTTP."""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import click

from contrail.cli import credentials
from contrail.cli.context import CliState, pass_state

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)


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
@click.option(
    "--demo",
    is_flag=True,
    help="Fill an empty default project with demo traces, a prompt, a dataset, experiments and an "
    "online evaluation rule once started.",
)
@pass_state
def server_command(
    state: CliState,
    host: str | None,
    port: int | None,
    database_url: str | None,
    workers: int | None,
    demo: bool,
) -> None:
    """Run the Contrail server (API, OTLP ingest and UI)."""
    # The server chooses this itself (below); one inherited from the shell would mix in other runs.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if database_url:
        state.database_url = database_url
        os.environ["CONTRAIL_DATABASE_URL"] = database_url  # worker processes read their settings anew
    settings = state.settings()
    host = host or settings.bind_host
    port = port or settings.port
    check_port_free(host, port)
    engine = state.engine()  # migrates, and creates the default project and key on first run
    saved = credentials.load(settings.resolved_home())
    _print_banner(f"http://{host}:{port}", saved, settings.resolved_database_url())
    if demo and saved and not _has_traces(engine, saved.get("project", "default")):
        seed_demo_when_up(f"http://{host}:{port}", saved)
    engine.dispose()

    import uvicorn

    workers = workers or settings.workers
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level.lower(),
        "access_log": False,
    }
    if workers > 1:
        from contrail.server.telemetry import shared_metrics_directory

        # Every worker counts into this directory, so /metrics is exact whichever worker answers.
        with shared_metrics_directory():
            uvicorn.run("contrail.server.app:create_worker_app", factory=True, workers=workers, **options)
        return
    from contrail.server.app import create_app

    uvicorn.run(create_app(settings, migrate=False, owns_process=True), **options)


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
    if saved and saved.get("admin_email"):
        lines += [
            f"Sign in at {url}/login as {saved['admin_email']}",
            f"Password: {saved.get('admin_password')}  (until changed under Settings → Account)",
        ]
    if saved and saved.get("secret_key"):
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


def _has_traces(engine: Engine, project: str) -> bool:
    from contrail.store.filters import Filter
    from contrail.store.projects import ProjectError, find_project
    from contrail.store.queries import list_traces

    try:
        project_id = find_project(engine, project).id
    except ProjectError:
        return True  # nothing to seed into
    return bool(list_traces(engine, project_id, Filter(), limit=1).items)


def seed_demo_when_up(url: str, saved: dict[str, str]) -> threading.Thread:
    """Send demo traces through the SDK, and create the demo prompt, dataset, experiments and online
    rule, from a background thread once the server answers."""

    def seed() -> None:
        import httpx

        from contrail.sdk.demo import run_demo

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        result = run_demo(
            200, host=url, public_key=saved.get("public_key"), secret_key=saved.get("secret_key")
        )
        logger.info("Demo data: %d traces sent to %s; created %s", result.traces, url, result.created)

    click.echo("Loading demo data in the background (contrail demo)…", err=True)
    thread = threading.Thread(target=seed, name="contrail-demo-seed", daemon=True)
    thread.start()
    return thread
