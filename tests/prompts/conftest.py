"""A migrated engine and a fresh project per test, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine

from contrail.store.projects import create_project


@pytest.fixture
def project_id(engine: Engine) -> str:
    return create_project(engine, f"prompts-{uuid.uuid4().hex[:12]}").id
