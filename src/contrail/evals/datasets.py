"""Versioned datasets: create, list, upsert items (a new version per change), read any version, item
history, and items made from production traces. Every function is scoped to one project.

Items come back as dicts in the API's shape. File formats live in ``evals.dataset_files``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Engine, Select, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from contrail.evals.dataset_files import ItemIn
from contrail.schema.ids import uuid7
from contrail.schema.timeconv import now_us, us_to_rfc3339
from contrail.store import queries
from contrail.store.database import writing
from contrail.store.eval_tables import dataset_item_history, dataset_items, datasets
from contrail.store.filters import Filter
from contrail.store.pagination import Page, after_cursor, split_page
from contrail.store.tables import traces
from contrail.store.types import pack_json, unpack_json

ItemStatus = Literal["active", "archived", "all"]
TraceUse = Literal["trace", "root_span"]

_NAME = re.compile(r"^[A-Za-z0-9_.\-][A-Za-z0-9_.\-/]{0,199}$")
_CHUNK = 500
MAX_FROM_TRACES = 10_000


class DatasetError(Exception):
    """A request the store refuses: ``kind`` is not_found, conflict or invalid."""

    def __init__(self, kind: Literal["not_found", "conflict", "invalid"], message: str, details: Any = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details


@dataclasses.dataclass(frozen=True, slots=True)
class UpsertResult:
    version: int
    created: int
    updated: int
    unchanged: int
    items: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_name(name: str) -> str:
    """A dataset name: 1-200 letters, digits, - _ . /; no leading, trailing or doubled slash, and no
    "." or ".." segment (clients would rewrite those paths)."""
    segments = name.split("/")
    if not _NAME.match(name) or any(s in ("", ".", "..") for s in segments):
        raise DatasetError(
            "invalid",
            f"Invalid dataset name {name[:250]!r}: use 1-200 letters, digits, - _ . and / "
            "(no spaces, no leading or trailing /, no empty, '.' or '..' parts).",
        )
    return name


def json_safe(value: Any) -> Any:
    """``value`` with NUL characters replaced: PostgreSQL JSON and text cannot hold them."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


# --- datasets ------------------------------------------------------------------------------------


def create_dataset(
    engine: Engine, project_id: str, name: str, description: str | None, metadata: dict[str, Any] | None
) -> dict[str, Any]:
    """A new, empty dataset at version 0; DatasetError conflict when the name is taken."""
    check_name(name)
    now = now_us()
    row = {
        "id": uuid7(),
        "project_id": project_id,
        "name": name,
        "description": json_safe(description),
        "metadata": json_safe(metadata) or None,
        "version": 0,
        "item_count": 0,
        "created_us": now,
        "updated_us": now,
        "deleted_us": None,
    }
    try:
        with writing(engine).begin() as connection:
            if _find(connection, project_id, name) is not None:
                raise _name_taken(name)
            connection.execute(insert(datasets).values(row))
    except IntegrityError as exc:  # created by a concurrent request between the check and the insert
        raise _name_taken(name) from exc
    return dataset_dict(row)


def _name_taken(name: str) -> DatasetError:
    return DatasetError("conflict", f"A dataset named {name!r} already exists in this project.")


def get_dataset(engine: Engine, project_id: str, name: str) -> dict[str, Any]:
    with engine.connect() as connection:
        return dataset_dict(dataset_row(connection, project_id, name))


def list_datasets(
    engine: Engine, project_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page[dict[str, Any]]:
    """Live datasets by name."""
    query = select(datasets).where(datasets.c.project_id == project_id, datasets.c.deleted_us.is_(None))
    if cursor:
        query = query.where(after_cursor(datasets.c.name, datasets.c.id, cursor, False))
    with engine.connect() as connection:
        rows = list(
            connection.execute(query.order_by(datasets.c.name, datasets.c.id).limit(limit + 1)).mappings()
        )
    rows, next_cursor = split_page(rows, limit, "name", "id")
    return Page([dataset_dict(r) for r in rows], next_cursor)


def delete_dataset(engine: Engine, project_id: str, name: str) -> None:
    """Soft delete: the dataset disappears from the API, its experiments keep their results."""
    with writing(engine).begin() as connection:
        row = dataset_row(connection, project_id, name)
        connection.execute(update(datasets).where(datasets.c.id == row["id"]).values(deleted_us=now_us()))


def dataset_row(connection: Connection, project_id: str, name: str, *, lock: bool = False) -> Any:
    """The live dataset ``name``; DatasetError not_found. ``lock`` holds its row until commit."""
    row = _find(connection, project_id, name, lock=lock)
    if row is None:
        raise DatasetError("not_found", f"No dataset {name!r} in this project.")
    return row


def _find(connection: Connection, project_id: str, name: str, *, lock: bool = False) -> Any:
    query = select(datasets).where(
        datasets.c.project_id == project_id, datasets.c.name == name, datasets.c.deleted_us.is_(None)
    )
    if (
        lock
    ):  # PostgreSQL: concurrent writers to one dataset queue here (SQLite's BEGIN IMMEDIATE already does)
        query = query.with_for_update()
    return connection.execute(query).mappings().first()


def dataset_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "metadata": row["metadata"] or {},
        "version": row["version"],
        "item_count": row["item_count"],
        "created_at": us_to_rfc3339(row["created_us"]),
        "updated_at": us_to_rfc3339(row["updated_us"]),
    }


# --- writing items -------------------------------------------------------------------------------


def upsert_items(engine: Engine, project_id: str, name: str, items: Sequence[ItemIn]) -> UpsertResult:
    """Add or replace items by id in one transaction. Any change makes a new dataset version; an
    item's previous contents stay in its history. Unchanged items are counted, not rewritten."""
    now = now_us()
    with writing(engine).begin() as connection:
        dataset = dataset_row(connection, project_id, name, lock=True)
        existing = _existing(connection, dataset["id"], [i.id for i in items if i.id is not None])
        version = dataset["version"] + 1
        plan = _Plan(dataset["id"], version, now, _next_position(connection, dataset["id"]))
        for item in items:
            plan.add(item, existing.get(item.id) if item.id is not None else None)
        if not plan.rows:
            return UpsertResult(dataset["version"], 0, 0, plan.unchanged, plan.ids)
        _write_rows(connection, dataset["id"], plan)
        _bump(connection, dataset, version, plan.activated, now)
    return UpsertResult(version, plan.created, plan.updated, plan.unchanged, plan.ids)


@dataclasses.dataclass
class _Plan:
    """The rows one upsert writes, and its counts."""

    dataset_id: str
    version: int
    now: int
    position: int
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    replaced: list[str] = dataclasses.field(default_factory=list)
    ids: list[str] = dataclasses.field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    activated: int = 0  # items that count towards item_count now and did not before

    def add(self, item: ItemIn, old: Any) -> None:
        content = _content(item, old)
        if old is None:
            row: dict[str, Any] = {"id": item.id or uuid7(), "position": self.position}
            row["created_version"] = self.version
            row["created_us"] = self.now
            self.position += 1
            self.created += 1
            self.activated += 1
        elif _same(old, content):
            self.unchanged += 1
            self.ids.append(old["id"])
            return
        else:
            row = {k: old[k] for k in ("id", "position", "created_version", "created_us")}
            self.replaced.append(old["id"])
            self.updated += 1
            self.activated += old["status"] != "active"
        row.update(content, dataset_id=self.dataset_id, version=self.version, updated_us=self.now)
        self.rows.append(row)
        self.ids.append(row["id"])


def _content(item: ItemIn, old: Any) -> dict[str, Any]:
    return {
        "input": pack_json(item.input),
        "expected_output": pack_json(item.expected_output),
        "metadata": json_safe(item.metadata) or None,
        # Provenance survives edits that do not restate it.
        "source_trace_id": item.source_trace_id or (old["source_trace_id"] if old is not None else None),
        "source_span_id": item.source_span_id or (old["source_span_id"] if old is not None else None),
        "status": "active",
    }


def _same(old: Any, content: dict[str, Any]) -> bool:
    for key in ("source_trace_id", "source_span_id", "status"):
        if old[key] != content[key]:
            return False
    # Canonical JSON, so key order does not count as a change but true vs 1 does.
    return all(
        _canonical(unpack_json(old[key])) == _canonical(unpack_json(content[key]))
        for key in ("input", "expected_output")
    ) and _canonical(old["metadata"] or None) == _canonical(content["metadata"])


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def _existing(connection: Connection, dataset_id: str, ids: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        query = select(dataset_items).where(
            dataset_items.c.dataset_id == dataset_id, dataset_items.c.id.in_(chunk)
        )
        found.update((row["id"], row) for row in connection.execute(query).mappings())
    return found


def _next_position(connection: Connection, dataset_id: str) -> int:
    query = select(func.max(dataset_items.c.position)).where(dataset_items.c.dataset_id == dataset_id)
    return int(connection.execute(query).scalar() or 0) + 1


def _write_rows(connection: Connection, dataset_id: str, plan: _Plan) -> None:
    for start in range(0, len(plan.replaced), _CHUNK):
        chunk = plan.replaced[start : start + _CHUNK]
        connection.execute(
            delete(dataset_items).where(
                dataset_items.c.dataset_id == dataset_id, dataset_items.c.id.in_(chunk)
            )
        )
    connection.execute(insert(dataset_items), plan.rows)
    connection.execute(insert(dataset_item_history), [_history_row(r) for r in plan.rows])


def _history_row(row: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "dataset_id",
        "version",
        "input",
        "expected_output",
        "metadata",
        "source_trace_id",
        "source_span_id",
    )
    history = {k: row[k] for k in keys}
    history.update(item_id=row["id"], status=row["status"], created_us=row["updated_us"])
    return history


def _bump(connection: Connection, dataset: Any, version: int, count_delta: int, now: int) -> None:
    connection.execute(
        update(datasets)
        .where(datasets.c.id == dataset["id"])
        .values(version=version, item_count=datasets.c.item_count + count_delta, updated_us=now)
    )


def archive_item(engine: Engine, project_id: str, name: str, item_id: str) -> int:
    """Archive an item (a new version); archiving an archived item changes nothing. Returns the
    dataset version."""
    now = now_us()
    with writing(engine).begin() as connection:
        dataset = dataset_row(connection, project_id, name, lock=True)
        old = _existing(connection, dataset["id"], [item_id]).get(item_id)
        if old is None:
            raise _no_item(name, item_id)
        if old["status"] == "archived":
            return int(dataset["version"])
        version = int(dataset["version"]) + 1
        connection.execute(
            update(dataset_items)
            .where(dataset_items.c.dataset_id == dataset["id"], dataset_items.c.id == item_id)
            .values(status="archived", version=version, updated_us=now)
        )
        row = {**old, "status": "archived", "version": version, "updated_us": now}
        connection.execute(insert(dataset_item_history).values(_history_row(row)))
        _bump(connection, dataset, version, -1, now)
    return version


def _no_item(name: str, item_id: str) -> DatasetError:
    return DatasetError("not_found", f"No item {item_id!r} in dataset {name!r}.")


# --- reading items -------------------------------------------------------------------------------


def list_items(
    engine: Engine,
    project_id: str,
    name: str,
    *,
    version: int | None = None,
    status: ItemStatus = "active",
    limit: int = 50,
    cursor: str | None = None,
) -> Page[dict[str, Any]]:
    """Items as of dataset ``version`` (default: the latest), in the order they were added."""
    with engine.connect() as connection:
        dataset = dataset_row(connection, project_id, name)
        if version is not None and version > dataset["version"]:
            raise DatasetError(
                "invalid",
                f"Dataset {name!r} is at version {dataset['version']}; there is no version {version}.",
            )
        query = _items_query(dataset, version)
        columns = query.selected_columns
        if status != "all":
            query = query.where(columns.status == status)
        if cursor:
            query = query.where(after_cursor(columns.position, columns.id, cursor, False))
        rows = list(connection.execute(query.order_by(columns.position).limit(limit + 1)).mappings())
    rows, next_cursor = split_page(rows, limit, "position", "id")
    return Page([item_dict(r) for r in rows], next_cursor)


def iter_items(
    engine: Engine, project_id: str, name: str, version: int | None, status: ItemStatus = "active"
) -> Iterator[dict[str, Any]]:
    """Every item as of ``version`` (pinned to the latest at the first page), a page at a time."""
    if version is None:
        version = get_dataset(engine, project_id, name)["version"]
    cursor: str | None = None
    while True:
        page = list_items(engine, project_id, name, version=version, status=status, limit=1000, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _items_query(dataset: Any, version: int | None) -> Select[Any]:
    i = dataset_items
    base = (i.c.id, i.c.position, i.c.created_us)
    if version is None or version == dataset["version"]:
        content = (i.c.input, i.c.expected_output, i.c.metadata, i.c.source_trace_id, i.c.source_span_id)
        return select(*base, *content, i.c.status, i.c.version, i.c.updated_us).where(
            i.c.dataset_id == dataset["id"]
        )
    h, newer = dataset_item_history, dataset_item_history.alias("newer")
    as_of = (
        select(func.max(newer.c.version))
        .where(newer.c.dataset_id == i.c.dataset_id, newer.c.item_id == i.c.id, newer.c.version <= version)
        .scalar_subquery()
    )
    content = (h.c.input, h.c.expected_output, h.c.metadata, h.c.source_trace_id, h.c.source_span_id)
    joined = i.join(h, and_(h.c.dataset_id == i.c.dataset_id, h.c.item_id == i.c.id, h.c.version == as_of))
    return (
        select(*base, *content, h.c.status, h.c.version, h.c.created_us.label("updated_us"))
        .select_from(joined)
        .where(i.c.dataset_id == dataset["id"], i.c.created_version <= version)
    )


def count_items(connection: Connection, dataset: Any, version: int) -> int:
    """Active items of ``dataset`` (a row) as of ``version``."""
    if version == dataset["version"]:
        return int(dataset["item_count"])
    query = _items_query(dataset, version).where(dataset_item_history.c.status == "active")
    return int(connection.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def items_as_of(connection: Connection, dataset_id: str, ids: Sequence[str], version: int) -> dict[str, Any]:
    """History rows (contents and status) of these items as of ``version``; absent ids did not exist."""
    h = dataset_item_history
    found: dict[str, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        query = (
            select(h)
            .where(
                h.c.dataset_id == dataset_id,
                h.c.item_id.in_(ids[start : start + _CHUNK]),
                h.c.version <= version,
            )
            .order_by(h.c.version)
        )
        found.update((row["item_id"], row) for row in connection.execute(query).mappings())
    return found


def get_item(engine: Engine, project_id: str, name: str, item_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        dataset = dataset_row(connection, project_id, name)
        row = _existing(connection, dataset["id"], [item_id]).get(item_id)
    if row is None:
        raise _no_item(name, item_id)
    return item_dict(row)


def item_history(engine: Engine, project_id: str, name: str, item_id: str) -> list[dict[str, Any]]:
    """Every version of an item, newest first."""
    h = dataset_item_history
    with engine.connect() as connection:
        dataset = dataset_row(connection, project_id, name)
        item = _existing(connection, dataset["id"], [item_id]).get(item_id)
        if item is None:
            raise _no_item(name, item_id)
        rows = connection.execute(
            select(h)
            .where(h.c.dataset_id == dataset["id"], h.c.item_id == item_id)
            .order_by(h.c.version.desc())
        ).mappings()
        return [
            item_dict(
                {**row, "id": item_id, "created_us": item["created_us"], "updated_us": row["created_us"]}
            )
            for row in rows
        ]


def item_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "input": unpack_json(row["input"]),
        "expected_output": unpack_json(row["expected_output"]),
        "metadata": row["metadata"] or {},
        "source_trace_id": row["source_trace_id"],
        "source_span_id": row["source_span_id"],
        "status": row["status"],
        "version": row["version"],
        "created_at": us_to_rfc3339(row["created_us"]),
        "updated_at": us_to_rfc3339(row["updated_us"]),
    }


# --- items from production traces ----------------------------------------------------------------


def items_from_traces(
    engine: Engine,
    project_id: str,
    name: str,
    *,
    trace_ids: list[str] | None = None,
    flt: Filter | None = None,
    limit: int = 1000,
    use: TraceUse = "trace",
) -> UpsertResult:
    """Items whose input and expected output are the root observation's input and output of the chosen
    traces (by id, else the newest ``limit`` matching ``flt``). A trace already in the dataset updates
    its item instead of adding a second one. DatasetError invalid names unknown trace ids."""
    with engine.connect() as connection:
        dataset_id = dataset_row(connection, project_id, name)["id"]
    roots = (
        _roots_by_id(engine, project_id, trace_ids)
        if trace_ids
        else _roots_by_filter(engine, project_id, flt, limit)
    )
    documents = queries.root_documents(engine, project_id, roots)
    known = _items_by_source(engine, dataset_id, list(documents))
    items = [
        ItemIn(
            input=documents[trace_id][0],
            expected_output=documents[trace_id][1],
            id=known.get(trace_id),
            source_trace_id=trace_id,
            source_span_id=roots[trace_id] if use == "root_span" else None,
        )
        for trace_id in roots
        if trace_id in documents
    ]
    return upsert_items(engine, project_id, name, items)


def _roots_by_id(engine: Engine, project_id: str, trace_ids: list[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(t.lower() for t in trace_ids))
    roots: dict[str, str] = {}
    with engine.connect() as connection:
        for start in range(0, len(wanted), _CHUNK):
            query = select(traces.c.trace_id, traces.c.root_span_id).where(
                traces.c.project_id == project_id, traces.c.trace_id.in_(wanted[start : start + _CHUNK])
            )
            roots.update((r.trace_id, r.root_span_id) for r in connection.execute(query) if r.root_span_id)
    missing = [t for t in wanted if t not in roots]
    if missing:
        raise DatasetError(
            "invalid",
            f"{len(missing)} trace(s) are not in this project or have no root observation: "
            + ", ".join(missing[:10]),
            {"unknown_trace_ids": missing[:100]},
        )
    return {t: roots[t] for t in wanted}


def _roots_by_filter(engine: Engine, project_id: str, flt: Filter | None, limit: int) -> dict[str, str]:
    roots: dict[str, str] = {}
    cursor: str | None = None
    while len(roots) < limit:
        page = queries.list_traces(engine, project_id, flt or Filter(), limit=min(500, limit), cursor=cursor)
        roots.update((t["trace_id"], t["root_span_id"]) for t in page.items if t["root_span_id"])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return dict(list(roots.items())[:limit])


def _items_by_source(engine: Engine, dataset_id: str, trace_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    with engine.connect() as connection:
        for start in range(0, len(trace_ids), _CHUNK):
            query = select(dataset_items.c.source_trace_id, dataset_items.c.id).where(
                dataset_items.c.dataset_id == dataset_id,
                dataset_items.c.source_trace_id.in_(trace_ids[start : start + _CHUNK]),
            )
            found.update((r.source_trace_id, r.id) for r in connection.execute(query))
    return found
