"""A shared check for each feature's migration: it creates exactly what its table definitions say,
on both dialects, and goes down and up again."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect

from contrail.store import (  # noqa: F401  (registers every table module on the shared metadata)
    account_tables,
    alert_tables,
    eval_tables,
    pricing_tables,
    prompt_tables,
    rollup_tables,
)
from contrail.store.database import open_engine, writing
from contrail.store.migrate import _config, upgrade
from contrail.store.tables import metadata


def assert_migration_round_trip(
    database_url: str,
    tables: set[str],
    down_to: str,
    *,
    backfill: Callable[[Engine], Callable[[], None]] | None = None,
) -> None:
    """Upgrade an empty database, compare ``tables`` with their definitions (no difference allowed),
    downgrade to revision ``down_to`` (the tables are gone) and upgrade again (they are back).

    ``backfill``, for migrations that fill their tables from existing data: called after the first
    upgrade to store that data, it returns a check run after the second upgrade (the tables hold
    what the migration derived again)."""
    engine = open_engine(database_url)
    try:
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= tables
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), _metadata_of(tables))
        assert [d for d in diff if tables & _names(d)] == []
        check_backfill = backfill(engine) if backfill is not None else None
        with writing(engine).begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.downgrade(config, down_to)
        assert not tables & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= tables
        if check_backfill is not None:
            check_backfill()
    finally:
        engine.dispose()


def _metadata_of(tables: set[str]) -> MetaData:
    only = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        if table.name in tables | {"projects"}:
            table.to_metadata(only)
    return only


def _names(item: object) -> set[str]:
    """Every table or object name inside an autogenerate difference (nested tuples included)."""
    if isinstance(item, (list, tuple)):
        return {name for sub in item for name in _names(sub)}
    names = {item} if isinstance(item, str) else {getattr(item, "name", None) or ""}
    table = getattr(item, "table", None)
    return names | ({table.name} if table is not None else set())
