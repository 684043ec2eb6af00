"""A migrated engine and a fresh project per test, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from contrail.store.database import open_engine
from contrail.store.migrate import upgrade
from contrail.store.projects import create_project


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def project_id(engine: Engine) -> str:
    return create_project(engine, f"prompts-{uuid.uuid4().hex[:12]}").id
