"""Migration 0007 creates exactly the tables store/eval_tables.py declares, and undoes them."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from contrail.store import eval_tables
from contrail.store.database import open_engine, writing
from contrail.store.migrate import _config, upgrade
from contrail.store.tables import metadata

MINE = {
    t.name
    for t in (
        eval_tables.datasets,
        eval_tables.dataset_items,
        eval_tables.dataset_item_history,
        eval_tables.experiments,
        eval_tables.experiment_results,
        eval_tables.experiment_scores,
    )
}


def _table_of(diff: Any) -> str | None:
    for part in diff if isinstance(diff, list) else [diff]:
        for value in part[1:] if isinstance(part, tuple) else ():
            name = getattr(value, "name", None) if not isinstance(value, str) else value
            table = getattr(value, "table", None)
            if table is not None and table.name in MINE:
                return str(table.name)
            if name in MINE:
                return str(name)
    return None


def test_migration_matches_the_table_definitions_and_downgrades(empty_database_url: str) -> None:
    engine = open_engine(empty_database_url)
    upgrade(engine)
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), metadata)
    ours = [d for d in diffs if _table_of(d) is not None]
    with writing(engine).begin() as connection:
        config = _config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    after_downgrade = set(inspect(engine).get_table_names())
    upgrade(engine)
    after_upgrade = set(inspect(engine).get_table_names())
    engine.dispose()
    assert ours == []
    assert MINE.isdisjoint(after_downgrade)
    assert after_upgrade >= MINE
