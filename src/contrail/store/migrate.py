"""Apply Alembic migrations; run by ``contrail server`` at start and by ``contrail db upgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from contrail.store.database import writing

_SCRIPTS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; concurrent callers on PostgreSQL serialise on a lock."""
    with writing(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several servers may start at once against one database: let one migrate at a time.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7878001)")
        config = _config()
        config.attributes["connection"] = connection
        # "heads": revisions developed side by side may branch from one parent; apply every branch.
        command.upgrade(config, "heads")


def pending_revisions(engine: Engine) -> list[str]:
    """Revisions not yet applied (empty when the schema is current)."""
    script = ScriptDirectory.from_config(_config())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    applied: set[str] = set()
    for revision in current:
        applied.update(r.revision for r in script.iterate_revisions(revision, "base"))
    return [r.revision for r in script.walk_revisions() if r.revision not in applied]
