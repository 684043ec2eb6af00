"""Filters for trace and observation queries, turned into bound SQL conditions per dialect.

Every user-supplied value reaches SQL as a bound parameter; JSON keys go into JSON paths that are
quoted and also bound. Full-text terms go through ``store.search``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    func,
    select,
    text,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import TextClause

from contrail.store import search
from contrail.store.tables import observations
from contrail.store.types import usd_to_nanos

_param_ids = itertools.count()

# Metadata keys usable in filters: plain names, so they can sit inside a quoted JSON path.
METADATA_KEY = re.compile(r"^[A-Za-z0-9_.:\- ]{1,100}$")


@dataclasses.dataclass(slots=True)
class Filter:
    """Conditions shared by traces and observations; ``None`` means "any"."""

    start_from_us: int | None = None
    start_to_us: int | None = None
    name: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    environment: str | None = None
    release: str | None = None
    model: str | None = None
    has_error: bool | None = None
    min_latency_us: int | None = None
    max_latency_us: int | None = None
    min_cost_usd: Decimal | None = None
    max_cost_usd: Decimal | None = None
    metadata: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    search: str | None = None
    # observations only
    type: str | None = None
    level: str | None = None
    trace_id: str | None = None


def trace_conditions(table: Table, flt: Filter, project_id: str, engine: Engine) -> list[ColumnElement[bool]]:
    """WHERE conditions on the ``traces`` rollup table (build them before the reading transaction
    starts: a full-text term first indexes waiting documents, see store.search)."""
    c = table.c
    dialect = engine.dialect.name
    conditions = _common(table, flt, project_id, dialect, duration="duration_us", cost="total_cost_nanos")
    if flt.has_error is not None:
        conditions.append(c.error_count > 0 if flt.has_error else c.error_count == 0)
    if flt.model is not None:
        conditions.append(_json_array_contains(table, "models", flt.model, dialect))
    if flt.search:
        terms = search.query_terms(flt.search)
        if terms:
            matching = select(observations.c.trace_id).where(
                observations.c.project_id == project_id,
                search.id_in_matches(observations.c.id, engine, project_id, terms),
            )
            conditions.append(c.trace_id.in_(matching))
    return conditions


def observation_conditions(
    table: Table, flt: Filter, project_id: str, engine: Engine
) -> list[ColumnElement[bool]]:
    """WHERE conditions on the ``observations`` table (built before reading, as trace_conditions)."""
    c = table.c
    dialect = engine.dialect.name
    conditions = _common(table, flt, project_id, dialect, duration="duration_us", cost="total_cost_nanos")
    if flt.has_error is not None:
        conditions.append(c.is_error.is_(flt.has_error))
    if flt.model is not None:  # the answering model, else the requested one (indexed); traces match both
        conditions.append(c.model == flt.model)
    for column in ("type", "level", "trace_id"):
        value = getattr(flt, column)
        if value is not None:
            conditions.append(c[column] == value)
    if flt.search:
        terms = search.query_terms(flt.search)
        if terms:
            conditions.append(search.id_in_matches(c.id, engine, project_id, terms))
    return conditions


def _common(
    table: Table, flt: Filter, project_id: str, dialect: str, *, duration: str, cost: str
) -> list[ColumnElement[bool]]:
    c = table.c
    conditions: list[ColumnElement[bool]] = [c.project_id == project_id]
    if flt.start_from_us is not None:
        conditions.append(c.start_us >= flt.start_from_us)
    if flt.start_to_us is not None:
        conditions.append(c.start_us < flt.start_to_us)
    for column in ("name", "user_id", "session_id", "environment", "release"):
        value = getattr(flt, column)
        if value is not None:
            conditions.append(c[column] == value)
    if flt.min_latency_us is not None:
        conditions.append(c[duration] >= flt.min_latency_us)
    if flt.max_latency_us is not None:
        conditions.append(c[duration] <= flt.max_latency_us)
    if flt.min_cost_usd is not None:
        conditions.append(c[cost] >= usd_to_nanos(flt.min_cost_usd))
    if flt.max_cost_usd is not None:
        conditions.append(c[cost] <= usd_to_nanos(flt.max_cost_usd))
    conditions.extend(_json_array_contains(table, "tags", tag, dialect) for tag in flt.tags)
    conditions.extend(_json_key_equals(table, "metadata", k, v, dialect) for k, v in flt.metadata)
    return conditions


def _json_array_contains(table: Table, column: str, value: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        contains: ColumnElement[bool] = type_coerce(table.c[column], JSONB).contains([value])
        return contains
    name = f"jv{next(_param_ids)}"
    clause: TextClause = text(
        f"EXISTS (SELECT 1 FROM json_each({table.name}.{column}) WHERE json_each.value = :{name})"
    ).bindparams(bindparam(name, value))
    return and_(true(), clause)


def _json_key_equals(table: Table, column: str, key: str, value: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        equals: ColumnElement[bool] = type_coerce(table.c[column], JSONB)[key].astext == value
        return equals
    path = '$."' + key + '"'  # keys are checked against METADATA_KEY by callers
    extracted: Any = func.json_extract(table.c[column], bindparam(None, path))
    return cast(extracted, Text) == value
