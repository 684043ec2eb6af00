"""Projects and their API keys. Secrets are stored only as SHA-256 hashes and shown once.

Secrets are 256-bit random tokens, so a fast hash is as safe as a slow one (no dictionary to try)
and keeps ingest, which verifies a key per request, cheap. Passwords (UI users) use argon2.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import Column, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from contrail.schema.ids import uuid7
from contrail.schema.timeconv import now_us
from contrail.store.database import writing
from contrail.store.tables import api_keys, projects

DEFAULT_PROJECT = "default"


class ProjectError(ValueError):
    """A project or key operation the caller asked for cannot be done; the message says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    created_us: int


@dataclasses.dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    project_id: str
    public_key: str
    secret_hint: str
    note: str | None
    created_us: int
    revoked_us: int | None
    last_used_us: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created key pair: the only time the secret is known in clear."""

    key: ApiKey
    secret_key: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_project(engine: Engine, name: str) -> Project:
    name = name.strip()
    if not name or len(name) > 200:
        raise ProjectError("A project name must have 1 to 200 characters.")
    project = Project(id=uuid7(), name=name, created_us=now_us())
    try:
        with writing(engine).begin() as connection:
            connection.execute(insert(projects).values(dataclasses.asdict(project)))
    except IntegrityError as exc:  # the unique name, also when another server created it just now
        raise ProjectError(f"A project named {name!r} already exists.") from exc
    return project


def list_projects(engine: Engine) -> list[Project]:
    with engine.connect() as connection:
        rows = connection.execute(select(projects).order_by(projects.c.created_us)).mappings()
        return [Project(**row) for row in rows]


def find_project(engine: Engine, name_or_id: str) -> Project:
    with engine.connect() as connection:
        row = (
            connection.execute(
                select(projects).where((projects.c.name == name_or_id) | (projects.c.id == name_or_id))
            )
            .mappings()
            .first()
        )
    if row is None:
        raise ProjectError(f"No project named {name_or_id!r}. See `contrail projects list`.")
    return Project(**row)


def create_key(engine: Engine, project_id: str, note: str | None = None) -> IssuedKey:
    secret = "sk-ctl-" + secrets.token_urlsafe(32)
    key = ApiKey(
        id=uuid7(),
        project_id=project_id,
        public_key="pk-ctl-" + secrets.token_hex(12),
        secret_hint=secret[:10] + "…" + secret[-4:],
        note=note,
        created_us=now_us(),
        revoked_us=None,
        last_used_us=None,
    )
    with writing(engine).begin() as connection:
        connection.execute(
            insert(api_keys).values(**dataclasses.asdict(key), secret_hash=hash_secret(secret))
        )
    return IssuedKey(key=key, secret_key=secret)


def list_keys(engine: Engine, project_id: str) -> list[ApiKey]:
    query = select(*_key_columns()).where(api_keys.c.project_id == project_id).order_by(api_keys.c.created_us)
    with engine.connect() as connection:
        return [ApiKey(**row) for row in connection.execute(query).mappings()]


def revoke_key(engine: Engine, project_id: str, public_key: str) -> ApiKey:
    with writing(engine).begin() as connection:
        result = connection.execute(
            update(api_keys)
            .where(api_keys.c.project_id == project_id, api_keys.c.public_key == public_key)
            .where(api_keys.c.revoked_us.is_(None))
            .values(revoked_us=now_us())
        )
        if result.rowcount == 0:
            raise ProjectError(f"No active key {public_key!r} in this project.")
        row = connection.execute(
            select(*_key_columns()).where(api_keys.c.public_key == public_key)
        ).mappings()
        return ApiKey(**row.one())


def verify_key(engine: Engine, *, secret_key: str, public_key: str | None = None) -> ApiKey | None:
    """The active key whose secret matches (and public key, when given), else None."""
    digest = hash_secret(secret_key)
    query = select(*_key_columns(), api_keys.c.secret_hash).where(api_keys.c.secret_hash == digest)
    if public_key is not None:
        query = query.where(api_keys.c.public_key == public_key)
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None or row["revoked_us"] is not None or not hmac.compare_digest(row["secret_hash"], digest):
        return None
    return ApiKey(**{k: v for k, v in row.items() if k != "secret_hash"})


def ensure_default_project(engine: Engine) -> IssuedKey | None:
    """On first run, create the default project and a key; returns the key then, else None."""
    with engine.connect() as connection:
        if connection.execute(select(func.count()).select_from(projects)).scalar_one():
            return None
    try:
        project = create_project(engine, DEFAULT_PROJECT)
    except ProjectError:
        return None  # another server process won the first run
    return create_key(engine, project.id, note="created on first run")


def _key_columns() -> list[Column[Any]]:
    return [c for c in api_keys.c if c.name != "secret_hash"]
