"""Migration 0006 matches the table definitions and goes down and up again on both dialects."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from contrail.store import prompt_tables
from contrail.store.database import open_engine, writing
from contrail.store.migrate import _config, upgrade

_TABLES = {"prompts", "prompt_versions", "prompt_labels", "prompt_label_events"}


def _prompt_metadata() -> MetaData:
    only = MetaData(naming_convention=prompt_tables.metadata.naming_convention)
    for table in prompt_tables.metadata.sorted_tables:
        if table.name in _TABLES | {"projects"}:
            table.to_metadata(only)
    return only


def test_migration_matches_the_tables_and_downgrades(empty_database_url: str) -> None:
    engine = open_engine(empty_database_url)
    try:
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= _TABLES
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), _prompt_metadata())
        ours = [
            d
            for d in diff
            if _TABLES & {x if isinstance(x, str) else getattr(x, "name", None) for x in _flatten(d)}
        ]
        assert ours == []
        with writing(engine).begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        assert not _TABLES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= _TABLES
    finally:
        engine.dispose()


def _flatten(item: object) -> list[object]:
    if isinstance(item, (list, tuple)):
        return [x for sub in item for x in _flatten(sub)]
    table = getattr(item, "table", None)
    return [item] + ([table] if table is not None else [])
