"""Fixtures shared by the whole suite: database backends and a live Contrail server."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from contrail.testing.threaded_server import ThreadedServer

if TYPE_CHECKING:
    from sqlalchemy import Engine

POSTGRES_ADMIN_URL = os.environ.get(
    "CONTRAIL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    """Skip (locally) or fail (CI, CONTRAIL_TEST_POSTGRES=required) when PostgreSQL is not there."""
    if _postgres_reachable():
        return
    if os.environ.get("CONTRAIL_TEST_POSTGRES") == "required":
        pytest.fail("CONTRAIL_TEST_POSTGRES=required but nothing listens on 127.0.0.1:5432")
    pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (set CONTRAIL_TEST_POSTGRES=required in CI)")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test, on each backend (for tests about a brand-new install)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    require_postgres()
    from sqlalchemy import create_engine, text

    name = f"contrail_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each test using this runs once on SQLite (fresh file) and once on PostgreSQL (shared database;
    tests are isolated by their own project, as every query is project-scoped)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'contrail.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url`` with the schema migrated (each backend, see database_url)."""
    from contrail.store.database import open_engine
    from contrail.store.migrate import upgrade

    engine = open_engine(database_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


class LiveContrail:
    """A running Contrail server and a fresh project with its key pair."""

    def __init__(self, url: str, public_key: str, secret_key: str, project_id: str, app: object) -> None:
        self.url = url
        self.public_key = public_key
        self.secret_key = secret_key
        self.project_id = project_id
        self.app = app

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret_key}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=30)


def start_contrail(database_url: str, home: Path, **settings: object) -> tuple[ThreadedServer, LiveContrail]:
    from contrail.server.app import create_app
    from contrail.server.settings import Settings
    from contrail.store.projects import create_key, create_project

    # The writer thread: a writer process per in-process server would add ~0.5 s to every test; the
    # process is tested in tests/core/test_writer_process.py and by every `contrail server` subprocess.
    settings.setdefault("writer_process", False)
    app = create_app(Settings(home=home, database_url=database_url, **settings))  # type: ignore[arg-type]
    engine = app.state.contrail.engine
    project = create_project(engine, f"test-{uuid.uuid4().hex[:12]}")
    issued = create_key(engine, project.id)
    server = ThreadedServer(app)
    server.start()
    return server, LiveContrail(server.url, issued.key.public_key, issued.secret_key, project.id, app)


@pytest.fixture
def contrail(database_url: str, tmp_path: Path) -> Iterator[LiveContrail]:
    """A live Contrail server on 127.0.0.1, on each database backend."""
    server, live = start_contrail(database_url, tmp_path / "home")
    try:
        yield live
    finally:
        server.stop()


@pytest.fixture
def sqlite_contrail(tmp_path: Path) -> Iterator[LiveContrail]:
    """A live Contrail server on SQLite only (for tests about the HTTP edge, not storage)."""
    server, live = start_contrail(f"sqlite:///{tmp_path / 'contrail.db'}", tmp_path / "home")
    try:
        yield live
    finally:
        server.stop()
