"""Migration 0009 matches the alert tables and goes down and up again on both dialects."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from contrail.store import alert_tables
from contrail.store.database import open_engine, writing
from contrail.store.migrate import _config, upgrade

_TABLES = {"budgets", "alert_settings", "webhooks", "alert_events", "webhook_deliveries"}


def _alert_metadata() -> MetaData:
    only = MetaData(naming_convention=alert_tables.metadata.naming_convention)
    for table in alert_tables.metadata.sorted_tables:
        if table.name in _TABLES | {"projects"}:
            table.to_metadata(only)
    return only


def _names(item: object) -> set[str]:
    if isinstance(item, (list, tuple)):
        return {name for sub in item for name in _names(sub)}
    names = {item} if isinstance(item, str) else {getattr(item, "name", None) or ""}
    table = getattr(item, "table", None)
    return names | ({table.name} if table is not None else set())


def test_migration_matches_the_tables_and_downgrades(empty_database_url: str) -> None:
    engine = open_engine(empty_database_url)
    try:
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= _TABLES
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), _alert_metadata())
        assert [d for d in diff if _TABLES & _names(d)] == []
        with writing(engine).begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0008")
        assert not _TABLES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= _TABLES
    finally:
        engine.dispose()
