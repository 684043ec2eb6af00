"""Writing the prompt registry: create versions, move labels, soft-delete. Reads are in ``lookup``.

Every write runs in one transaction that first locks the prompt's row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite writers already hold the database write lock), so version numbers and label moves
for one prompt are serialised across server processes. The unique constraints are the backstop: a
racing insert fails with IntegrityError and the whole transaction is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from contrail.prompts.content import check_content
from contrail.prompts.lookup import read_version
from contrail.prompts.model import PromptConflictError, PromptNotFoundError, PromptVersion
from contrail.prompts.names import LATEST, InvalidNameError, check_label, check_prompt_name
from contrail.schema.ids import uuid7
from contrail.schema.timeconv import now_us
from contrail.store.database import writing
from contrail.store.prompt_tables import prompt_label_events, prompt_labels, prompt_versions, prompts

logger = logging.getLogger(__name__)
T = TypeVar("T")
_ATTEMPTS = 5
MAX_TAGS = 50
MAX_COMMIT_MESSAGE = 10_000


def create_version(
    engine: Engine,
    project_id: str,
    *,
    name: str,
    type: str,
    prompt: Any,
    config: Any = None,
    labels: Iterable[str] = (),
    tags: Iterable[str] | None = None,
    commit_message: str | None = None,
    created_by: str | None = None,
) -> PromptVersion:
    """Add the next version of prompt ``name`` (creating the prompt), and point ``labels`` and
    ``latest`` at it. ``tags``, when given, replace the prompt's tags (shared by all versions).

    Raises InvalidNameError, ContentError (TemplateError details inside), PromptConflictError when the
    prompt exists with the other type.
    """
    check_prompt_name(name)
    content = check_content(type, prompt, config)
    wanted = _check_labels(labels)
    tag_list = None if tags is None else _check_tags(tags)
    if commit_message is not None and len(commit_message) > MAX_COMMIT_MESSAGE:
        raise InvalidNameError(f"A commit message has at most {MAX_COMMIT_MESSAGE:,} characters.")

    def work(connection: Connection) -> PromptVersion:
        now = now_us()
        row = _lock_or_create(connection, project_id, name, content.type, now)
        if row.deleted_us is None and row.type != content.type:
            raise PromptConflictError(
                f"Prompt {name!r} is a {row.type} prompt; a new version cannot be {content.type}."
            )
        changes: dict[str, Any] = {"updated_us": now, "deleted_us": None, "type": content.type}
        if tag_list is not None:
            changes["tags"] = tag_list
        elif row.deleted_us is not None:
            changes["tags"] = []
        connection.execute(update(prompts).where(prompts.c.id == row.id).values(**changes))
        number = _next_version(connection, row.id)
        connection.execute(
            insert(prompt_versions).values(
                id=uuid7(),
                project_id=project_id,
                prompt_id=row.id,
                version=number,
                type=content.type,
                prompt=content.prompt,
                config=content.config,
                variables=list(content.variables),
                tags=tag_list if tag_list is not None else [],
                commit_message=commit_message,
                content_hash=content.hash,
                created_by=created_by,
                created_us=now,
            )
        )
        for label in (LATEST, *wanted):
            _move_label(connection, project_id, row.id, label, number, created_by, now)
        return read_version(connection, project_id, name, version=number)

    return _transaction(engine, work)


def set_labels(
    engine: Engine, project_id: str, name: str, moves: Mapping[str, int | None], actor: str | None
) -> dict[str, int]:
    """Point each label at a version (None removes it), all in one transaction; ``latest`` is not
    movable. Returns every label of the prompt afterwards. Raises PromptNotFoundError for an unknown
    prompt or version, InvalidNameError for bad labels.
    """
    _check_labels(moves)

    def work(connection: Connection) -> dict[str, int]:
        row = _lock(connection, project_id, name)
        now = now_us()
        live = _live_versions(connection, row.id)
        for label, version in moves.items():
            if version is not None and version not in live:
                raise PromptNotFoundError(f"Prompt {name!r} has no version {version}.")
            _move_label(connection, project_id, row.id, label, version, actor, now)
        connection.execute(update(prompts).where(prompts.c.id == row.id).values(updated_us=now))
        return _labels_of(connection, row.id)

    return _transaction(engine, work)


def add_labels(
    engine: Engine, project_id: str, name: str, version: int, labels: Iterable[str], actor: str | None
) -> PromptVersion:
    """Point ``labels`` at ``version`` and return it (Langfuse's ``newLabels``: labels the version
    holds already stay). Raises as ``set_labels``."""
    set_labels(engine, project_id, name, dict.fromkeys(labels, version), actor)
    with engine.connect() as connection:
        return read_version(connection, project_id, name, version=version)


def delete_prompt(engine: Engine, project_id: str, name: str, actor: str | None) -> None:
    """Soft-delete a prompt and its versions, and drop its labels (recorded in the audit log).

    Creating the name again continues its version numbers, so traces that recorded a version still
    point at the text that produced them.
    """

    def work(connection: Connection) -> None:
        row = _lock(connection, project_id, name)
        now = now_us()
        for label in _labels_of(connection, row.id):
            _move_label(connection, project_id, row.id, label, None, actor, now)
        connection.execute(
            update(prompt_versions)
            .where(prompt_versions.c.prompt_id == row.id, prompt_versions.c.deleted_us.is_(None))
            .values(deleted_us=now)
        )
        connection.execute(
            update(prompts).where(prompts.c.id == row.id).values(deleted_us=now, updated_us=now)
        )

    _transaction(engine, work)


def delete_version(engine: Engine, project_id: str, name: str, version: int, actor: str | None) -> None:
    """Soft-delete one version. Refused (PromptConflictError) while a label other than ``latest``
    points at it, or when it is the prompt's only version; ``latest`` moves to the newest remaining."""

    def work(connection: Connection) -> None:
        row = _lock(connection, project_id, name)
        live = _live_versions(connection, row.id)
        if version not in live:
            raise PromptNotFoundError(f"Prompt {name!r} has no version {version}.")
        holders = sorted(
            label
            for label, held in _labels_of(connection, row.id).items()
            if held == version and label != LATEST
        )
        if holders:
            raise PromptConflictError(
                f"Version {version} of {name!r} holds the labels {', '.join(holders)}; move them first."
            )
        if len(live) == 1:
            raise PromptConflictError(
                f"Version {version} is the only version of {name!r}; delete the prompt."
            )
        now = now_us()
        connection.execute(
            update(prompt_versions)
            .where(prompt_versions.c.prompt_id == row.id, prompt_versions.c.version == version)
            .values(deleted_us=now)
        )
        newest = max(v for v in live if v != version)
        _move_label(connection, project_id, row.id, LATEST, newest, actor, now)
        connection.execute(update(prompts).where(prompts.c.id == row.id).values(updated_us=now))

    _transaction(engine, work)


def _transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with writing(engine).begin() as connection:
                return work(connection)
        except IntegrityError:
            if attempt == _ATTEMPTS:
                raise
            # Another process inserted the same prompt, version or label first; redo on its result.
            logger.info("Prompt registry write raced another writer (attempt %d); retrying", attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _lock_or_create(connection: Connection, project_id: str, name: str, type_: str, now: int) -> Row[Any]:
    found = _select_locked(connection, project_id, name)
    if found is not None:
        return found
    connection.execute(
        insert(prompts).values(
            id=uuid7(), project_id=project_id, name=name, type=type_, tags=[], created_us=now, updated_us=now
        )
    )
    created = _select_locked(connection, project_id, name)
    if created is None:  # pragma: no cover - the insert above is visible to its own transaction
        raise PromptNotFoundError(name)
    return created


def _lock(connection: Connection, project_id: str, name: str) -> Row[Any]:
    row = _select_locked(connection, project_id, name)
    if row is None or row.deleted_us is not None:
        raise PromptNotFoundError(f"No prompt named {name!r} in this project.")
    return row


def _select_locked(connection: Connection, project_id: str, name: str) -> Row[Any] | None:
    query = select(prompts).where(prompts.c.project_id == project_id, prompts.c.name == name)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def _next_version(connection: Connection, prompt_id: str) -> int:
    # Deleted versions count: a number is never reused.
    highest = connection.execute(
        select(func.max(prompt_versions.c.version)).where(prompt_versions.c.prompt_id == prompt_id)
    ).scalar()
    return int(highest or 0) + 1


def _live_versions(connection: Connection, prompt_id: str) -> set[int]:
    rows = connection.execute(
        select(prompt_versions.c.version).where(
            prompt_versions.c.prompt_id == prompt_id, prompt_versions.c.deleted_us.is_(None)
        )
    )
    return {int(v) for (v,) in rows}


def _labels_of(connection: Connection, prompt_id: str) -> dict[str, int]:
    rows = connection.execute(
        select(prompt_labels.c.label, prompt_labels.c.version).where(prompt_labels.c.prompt_id == prompt_id)
    )
    return {label: int(version) for label, version in rows}


def _move_label(
    connection: Connection,
    project_id: str,
    prompt_id: str,
    label: str,
    version: int | None,
    actor: str | None,
    now: int,
) -> None:
    key = and_(
        prompt_labels.c.project_id == project_id,
        prompt_labels.c.prompt_id == prompt_id,
        prompt_labels.c.label == label,
    )
    current = connection.execute(select(prompt_labels.c.version).where(key)).scalar()
    if current == version:
        return
    if version is None:
        connection.execute(prompt_labels.delete().where(key))
    elif current is None:
        connection.execute(
            insert(prompt_labels).values(
                project_id=project_id,
                prompt_id=prompt_id,
                label=label,
                version=version,
                updated_by=actor,
                updated_us=now,
            )
        )
    else:
        connection.execute(
            update(prompt_labels).where(key).values(version=version, updated_by=actor, updated_us=now)
        )
    connection.execute(
        insert(prompt_label_events).values(
            project_id=project_id,
            prompt_id=prompt_id,
            label=label,
            from_version=current,
            to_version=version,
            actor=actor,
            created_us=now,
        )
    )


def _check_labels(labels: Iterable[str]) -> list[str]:
    checked = []
    for label in labels:
        check_label(label)
        if label == LATEST:
            raise InvalidNameError(
                "The 'latest' label always points at the newest version; it cannot be set."
            )
        checked.append(label)
    return list(dict.fromkeys(checked))


def _check_tags(tags: Iterable[str]) -> list[str]:
    checked = list(dict.fromkeys(tags))
    if len(checked) > MAX_TAGS:
        raise InvalidNameError(f"A prompt has at most {MAX_TAGS} tags.")
    for tag in checked:
        if not isinstance(tag, str) or not 1 <= len(tag) <= 200:
            raise InvalidNameError("A tag is a string of 1 to 200 characters.")
    return checked
