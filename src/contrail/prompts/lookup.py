"""Reading the prompt registry: a version by label or number, lists, versions, label history.

Every query is scoped to the caller's project; soft-deleted prompts and versions are invisible.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, and_, exists, func, select

from contrail.prompts.diff import VersionDiff, diff_versions
from contrail.prompts.model import LabelEvent, PromptNotFoundError, PromptSummary, PromptVersion
from contrail.prompts.names import PRODUCTION
from contrail.store.filters import _json_array_contains
from contrail.store.pagination import Page, after_cursor, split_page
from contrail.store.prompt_tables import prompt_label_events, prompt_labels, prompt_versions, prompts


def get_version(
    engine: Engine, project_id: str, name: str, *, label: str | None = None, version: int | None = None
) -> PromptVersion:
    """The version ``version``, or the one ``label`` points at; with neither, the ``production``
    label (as Langfuse serves). Raises PromptNotFoundError (saying what is missing), ValueError
    when both are given."""
    with engine.connect() as connection:
        return read_version(connection, project_id, name, label=label, version=version)


def read_version(
    connection: Connection,
    project_id: str,
    name: str,
    *,
    label: str | None = None,
    version: int | None = None,
) -> PromptVersion:
    """``get_version`` inside an open transaction (the registry's writes answer with it)."""
    if label is not None and version is not None:
        raise ValueError("Ask for a label or a version, not both.")
    prompt = _live_prompt(connection, project_id, name)
    if version is None:
        label = label or PRODUCTION
        held = connection.execute(
            select(prompt_labels.c.version).where(
                prompt_labels.c.prompt_id == prompt.id, prompt_labels.c.label == label
            )
        ).scalar()
        if held is None:
            raise PromptNotFoundError(f"No version of prompt {name!r} has the label {label!r}.")
        version = int(held)
    row = connection.execute(
        select(prompt_versions).where(
            prompt_versions.c.prompt_id == prompt.id,
            prompt_versions.c.version == version,
            prompt_versions.c.deleted_us.is_(None),
        )
    ).first()
    if row is None:
        raise PromptNotFoundError(f"Prompt {name!r} has no version {version}.")
    return _version(row, prompt, _labels_by_version(connection, prompt.id).get(version, []))


def list_versions(engine: Engine, project_id: str, name: str) -> list[PromptVersion]:
    """Every live version of ``name``, newest first. Raises PromptNotFoundError."""
    with engine.connect() as connection:
        prompt = _live_prompt(connection, project_id, name)
        labels = _labels_by_version(connection, prompt.id)
        rows = connection.execute(
            select(prompt_versions)
            .where(prompt_versions.c.prompt_id == prompt.id, prompt_versions.c.deleted_us.is_(None))
            .order_by(prompt_versions.c.version.desc())
        )
        return [_version(row, prompt, labels.get(row.version, [])) for row in rows]


def list_prompts(
    engine: Engine,
    project_id: str,
    *,
    name_prefix: str | None = None,
    label: str | None = None,
    tag: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[PromptSummary]:
    """Live prompts by name, filtered by name prefix, a label they use and a tag (keyset pages).

    Raises CursorError for a cursor this server did not issue.
    """
    with engine.connect() as connection:
        query = _prompt_query(connection, project_id, name_prefix, label, tag)
        if cursor:
            query = query.where(after_cursor(prompts.c.name, prompts.c.id, cursor, descending=False))
        rows = [dict(r._mapping) for r in connection.execute(query.order_by(prompts.c.name).limit(limit + 1))]
        rows, next_cursor = split_page(rows, limit, "name", "id")
        return Page(_summaries(connection, rows), next_cursor)


def count_and_list_prompts(
    engine: Engine,
    project_id: str,
    *,
    name: str | None = None,
    label: str | None = None,
    tag: str | None = None,
    page: int = 1,
    limit: int = 50,
) -> tuple[int, list[PromptSummary]]:
    """Numbered pages for the Langfuse-compatible list: (total matching, this page's prompts)."""
    with engine.connect() as connection:
        query = _prompt_query(connection, project_id, None, label, tag)
        if name is not None:
            query = query.where(prompts.c.name == name)
        total = connection.execute(select(func.count()).select_from(query.subquery())).scalar() or 0
        page_query = query.order_by(prompts.c.name).limit(limit).offset((page - 1) * limit)
        rows = [dict(r._mapping) for r in connection.execute(page_query)]
        return int(total), _summaries(connection, rows)


def label_history(engine: Engine, project_id: str, name: str, *, limit: int = 100) -> list[LabelEvent]:
    """The newest ``limit`` label moves of ``name`` (newest first). Raises PromptNotFoundError."""
    with engine.connect() as connection:
        prompt = _live_prompt(connection, project_id, name)
        rows = connection.execute(
            select(prompt_label_events)
            .where(
                prompt_label_events.c.project_id == project_id, prompt_label_events.c.prompt_id == prompt.id
            )
            .order_by(prompt_label_events.c.id.desc())
            .limit(limit)
        )
        return [
            LabelEvent(
                id=int(r.id),
                name=name,
                label=r.label,
                from_version=r.from_version,
                to_version=r.to_version,
                actor=r.actor,
                created_us=int(r.created_us),
            )
            for r in rows
        ]


def _prompt_query(
    connection: Connection, project_id: str, name_prefix: str | None, label: str | None, tag: str | None
) -> Select[Any]:
    query = select(prompts.c.id, prompts.c.name, prompts.c.type, prompts.c.tags, prompts.c.updated_us).where(
        prompts.c.project_id == project_id, prompts.c.deleted_us.is_(None)
    )
    if name_prefix:
        # substr, not LIKE: SQLite's LIKE ignores case and '_' / '%' would need escaping.
        query = query.where(func.substr(prompts.c.name, 1, len(name_prefix)) == name_prefix)
    if label:
        query = query.where(
            exists().where(and_(prompt_labels.c.prompt_id == prompts.c.id, prompt_labels.c.label == label))
        )
    if tag:
        query = query.where(_json_array_contains(prompts, "tags", tag, connection.dialect.name))
    return query


def _summaries(connection: Connection, rows: list[dict[str, Any]]) -> list[PromptSummary]:
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    versions: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for prompt_id, version, config in connection.execute(
        select(prompt_versions.c.prompt_id, prompt_versions.c.version, prompt_versions.c.config)
        .where(prompt_versions.c.prompt_id.in_(ids), prompt_versions.c.deleted_us.is_(None))
        .order_by(prompt_versions.c.version)
    ):
        versions.setdefault(prompt_id, []).append((int(version), config))
    labels: dict[str, dict[str, int]] = {}
    for prompt_id, label, version in connection.execute(
        select(prompt_labels.c.prompt_id, prompt_labels.c.label, prompt_labels.c.version)
        .where(prompt_labels.c.prompt_id.in_(ids))
        .order_by(prompt_labels.c.label)
    ):
        labels.setdefault(prompt_id, {})[label] = int(version)
    summaries = []
    for r in rows:
        numbers = versions.get(r["id"], [])
        summaries.append(
            PromptSummary(
                id=r["id"],
                name=r["name"],
                type=r["type"],
                tags=list(r["tags"] or []),
                versions=[v for v, _ in numbers],
                labels=labels.get(r["id"], {}),
                latest_version=numbers[-1][0] if numbers else 0,
                last_config=numbers[-1][1] if numbers else {},
                updated_us=int(r["updated_us"]),
            )
        )
    return summaries


def _live_prompt(connection: Connection, project_id: str, name: str) -> Row[Any]:
    row = connection.execute(
        select(prompts).where(
            prompts.c.project_id == project_id, prompts.c.name == name, prompts.c.deleted_us.is_(None)
        )
    ).first()
    if row is None:
        raise PromptNotFoundError(f"No prompt named {name!r} in this project.")
    return row


def _labels_by_version(connection: Connection, prompt_id: str) -> dict[int, list[str]]:
    held: dict[int, list[str]] = {}
    for label, version in connection.execute(
        select(prompt_labels.c.label, prompt_labels.c.version)
        .where(prompt_labels.c.prompt_id == prompt_id)
        .order_by(prompt_labels.c.label)
    ):
        held.setdefault(int(version), []).append(label)
    return held


def _version(row: Row[Any], prompt: Row[Any], labels: list[str]) -> PromptVersion:
    return PromptVersion(
        id=row.id,
        name=prompt.name,
        version=int(row.version),
        type=row.type,
        prompt=row.prompt,
        config=row.config or {},
        variables=list(row.variables or []),
        labels=labels,
        tags=list(prompt.tags or []),
        commit_message=row.commit_message,
        created_by=row.created_by,
        created_us=int(row.created_us),
        content_hash=row.content_hash,
    )


def diff_stored_versions(
    engine: Engine, project_id: str, name: str, from_version: int, to_version: int
) -> VersionDiff:
    """Diff two live versions of ``name``. Raises PromptNotFoundError."""
    with engine.connect() as connection:
        before = read_version(connection, project_id, name, version=from_version)
        after = read_version(connection, project_id, name, version=to_version)
    return diff_versions(before, after)
