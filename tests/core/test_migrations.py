"""Migrations: one head, and an empty database upgrades to it on both dialects."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from contrail.store.database import open_engine
from contrail.store.migrate import _config, pending_revisions, upgrade


def test_the_revision_history_has_a_single_head() -> None:
    # Branches made side by side must be merged (see 0004) so `contrail db upgrade` has one target.
    assert len(ScriptDirectory.from_config(_config()).get_heads()) == 1


def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    engine = open_engine(database_url)
    upgrade(engine)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    pending = pending_revisions(engine)
    engine.dispose()
    expected = {"projects", "api_keys", "traces", "observations", "scores", "session_activity"}
    expected.add("user_activity")
    assert expected <= tables
    assert pending == []
