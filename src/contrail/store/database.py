"""Engines for the embedded SQLite file and for PostgreSQL, with errors that say how to fix them."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

_WRITE_OPTION = "contrail_write"
WAL_SIZE_LIMIT_BYTES = 64 * 2**20

# The sqlite3 module binds int, float and str directly but sends every other parameter (None, bool,
# bytes) through its adapter lookup, which fails slowly (~230 ns) before binding the value as is. A
# span row has some thirty such values: 7 µs per insert, a tenth of the writer's time. Adapters that
# give back the same value (None, the bytes object, bool as the int it is) make the lookup succeed
# at once; what SQLite stores is unchanged.
sqlite3.register_adapter(type(None), {}.get)  # type: ignore[arg-type]  # {}.get(x) is None, a C call
sqlite3.register_adapter(bool, int)
sqlite3.register_adapter(bytes, bytes)  # bytes(b) is b


def writing(engine: Engine) -> Engine:
    """The engine for a write transaction: ``with writing(engine).begin() as connection: ...``.

    On SQLite it begins with the write lock held (BEGIN IMMEDIATE); plain ``engine.begin()`` and
    ``engine.connect()`` are for reads. On PostgreSQL both are the same.
    """
    return engine.execution_options(**{_WRITE_OPTION: True})


class DatabaseUnavailableError(RuntimeError):
    """The configured database cannot be used; the message says what to do about it."""


def open_engine(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    sqlite_autocheckpoint: bool = True,
    sqlite_cache_mb: int = 16,
) -> Engine:
    """Create an engine for ``url`` and check that it answers.

    ``sqlite_cache_mb`` is SQLite's page cache per connection: the OS caches the file too, and a
    server holds several connections.

    Raises DatabaseUnavailableError with a fix for bad URLs, missing drivers and unreachable servers.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailableError(
            f"CONTRAIL_DATABASE_URL is not a database URL ({exc}). "
            "Use postgresql+psycopg://user@host:5432/db, or unset it for the embedded SQLite database."
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(
            url, parsed.database, sqlite_synchronous, sqlite_autocheckpoint, sqlite_cache_mb
        )
    elif parsed.get_backend_name() == "postgresql":
        engine = _postgres_engine(url, parsed.drivername)
    else:
        raise DatabaseUnavailableError(
            f"Unsupported database {parsed.get_backend_name()!r}: Contrail runs on SQLite or PostgreSQL."
        )
    _check_reachable(engine)
    return engine


def _sqlite_engine(
    url: str, database: str | None, synchronous: str, autocheckpoint: bool, cache_mb: int
) -> Engine:
    write_lock = None
    if _is_file(database):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        write_lock = _WriteLock(database)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's begin event decide the transaction mode (BEGIN IMMEDIATE below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
        if not autocheckpoint:  # the server checkpoints from a background thread (store.maintenance)
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        # When a write starts the WAL over, the file shrinks back to this size (it keeps its peak
        # size otherwise).
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Writers take the write lock at the start, so concurrent writers queue (busy_timeout) instead
        # of failing mid-way; readers begin deferred and read their WAL snapshot without waiting.
        writes = connection.get_execution_options().get(_WRITE_OPTION, False)
        if writes and write_lock is not None:
            write_lock.acquire(connection.connection.dbapi_connection)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    if write_lock is not None:
        write_lock.release_after_transactions(engine)
    return engine


def _is_file(database: str | None) -> TypeGuard[str]:
    return bool(database) and database != ":memory:"


@contextlib.contextmanager
def writes_paused(engine: Engine) -> Iterator[None]:
    """Hold SQLite's writer flock (see :class:`_WriteLock`) without a transaction: writers that take
    it (every write of ours) wait at their BEGIN until the block ends. No-op for other databases."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not _is_file(database):
        yield
        return
    descriptor = _WriteLock(database).take()
    try:
        yield
    finally:
        os.close(descriptor)


class _WriteLock:
    """Hands SQLite's write lock from one writer to the next without polling.

    SQLite makes a writer that finds the database locked sleep and retry (1 ms, then up to 100 ms
    steps), so with several server processes the lock sat idle while the next writer slept. Writers
    first take an exclusive ``flock`` on a file next to the database, which the kernel hands to the
    next waiter the moment it is released (after COMMIT or ROLLBACK). Each connection opens its own
    descriptor, so threads of one process queue on it too. Processes that do not take it (another
    tool writing the file) still meet SQLite's own lock and busy timeout: nothing relies on it for
    correctness.
    """

    def __init__(self, database: str) -> None:
        self._path = str(Path(database).expanduser()) + "-writelock"
        self._held: dict[int, int] = {}  # id(DBAPI connection) -> descriptor holding the lock

    def acquire(self, dbapi_connection: Any) -> None:
        self._held[id(dbapi_connection)] = self.take()

    def take(self) -> int:
        """Wait for the lock; closing the returned descriptor releases it."""
        descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor

    def release(self, connection: Any) -> None:
        # SQLAlchemy hands the dialect its pool proxy; the lock was taken for the driver connection.
        dbapi_connection = getattr(connection, "dbapi_connection", connection)
        descriptor = self._held.pop(id(dbapi_connection), None)
        if descriptor is not None:
            os.close(descriptor)  # closing the descriptor releases its flock

    def release_after_transactions(self, engine: Engine) -> None:
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(connection: Any) -> None:
            try:
                commit(connection)
            finally:
                self.release(connection)

        def do_rollback(connection: Any) -> None:
            try:
                rollback(connection)
            finally:
                self.release(connection)

        # Released after SQLite's own COMMIT/ROLLBACK: SQLAlchemy's commit events fire before them.
        dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign,assignment]


def _postgres_engine(url: str, drivername: str) -> Engine:
    if drivername in ("postgresql", "postgres"):
        url = url.replace(drivername + "://", "postgresql+psycopg://", 1)
    try:
        engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise DatabaseUnavailableError(
            "PostgreSQL support is not installed: pip install 'contrail-llmops[postgres]'"
        ) from exc

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # psycopg prepares a statement after a few runs and PostgreSQL may then keep one generic plan
        # for it, chosen while the tables were small, where every index costs the same: the writer's
        # trace lookup kept scanning a whole project through the covering index (ingest slowed as
        # the table grew, 1,300 spans/s at 100k spans). Planning each run for its values and the
        # current table size costs microseconds.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_connection.commit()

    return engine


def _check_reachable(engine: Engine) -> None:
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        url = engine.url
        if url.get_backend_name() == "sqlite":
            raise DatabaseUnavailableError(
                f"Cannot open the SQLite database at {url.database} ({exc.orig}). "
                "Check that the folder is writable, or set CONTRAIL_HOME to another folder."
            ) from exc
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailableError(
            f"Cannot reach PostgreSQL at {url.host}:{url.port or 5432} ({reason}). "
            "Start it, or unset CONTRAIL_DATABASE_URL to use the embedded SQLite database."
        ) from exc


def executemany(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``sql`` (written with ``?`` markers) for each row through the driver's executemany.

    For the writer's hot statements: SQLAlchemy's per-row parameter processing costs more than
    SQLite's own work there. Values must already be in driver form (JSON as text).
    """
    if rows:
        if connection.dialect.name != "sqlite":
            sql = sql.replace("?", "%s")
        connection.exec_driver_sql(sql, list(rows))
