"""Per-project price overrides: stored price-file entries layered over the built-in catalogue.

A project's overrides are entries in the price-file format (docs/pricing.md), kept one row per
``provider/model`` with a per-project version counter bumped in the same transaction as every change.
Writes are all-or-nothing: a document is validated together with the entries it joins (aliases must
stay unique), and nothing is stored unless everything is valid.

Layering is per period: an override of a model the built-in catalogue knows takes effect from its
first ``effective`` date; observations before that keep the built-in price valid then.

``CatalogueCache`` gives the ingest path a project's catalogue without a query per request: it checks
the version counter at most once per ``CHECK_SECONDS`` per project, so a change made through any
server process (or the CLI) reaches every process within that interval.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from contrail.analytics.catalogue import PriceCatalogue, default_catalogue
from contrail.analytics.price_file import (
    SCHEMA_VERSION,
    PriceFileError,
    normalize_name,
    parse_price_document,
)
from contrail.analytics.prices import PriceEntry
from contrail.schema.timeconv import now_us
from contrail.store.database import writing
from contrail.store.pricing_tables import price_override_versions, price_overrides

logger = logging.getLogger(__name__)

LAYER = "project"
CHECK_SECONDS = 1.0
_CACHE_LIMIT = 10_000
# Copied from the document onto each stored entry, so a stored entry stands alone.
_INHERITED = ("provider", "source")


class OverrideNotFound(LookupError):
    """No override for that provider/model in the project."""


@dataclasses.dataclass(frozen=True, slots=True)
class StoredOverride:
    """One overridden model: the parsed entry and the JSON object it was stored as."""

    entry: PriceEntry
    document: dict[str, Any]
    updated_us: int


@dataclasses.dataclass(frozen=True, slots=True)
class PutResult:
    added: list[str]
    replaced: list[str]
    version: int


def parse_document_text(raw: bytes | str, *, origin: str) -> Any:
    """Decode JSON with numbers as exact Decimals; PriceFileError when it is not JSON."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PriceFileError(origin, [f"not valid JSON ({exc})"]) from exc


def put_overrides(engine: Engine, project_id: str, document: Any, *, origin: str = "request") -> PutResult:
    """Add the entries of a price document to the project's overrides, replacing same provider/model.

    Raises PriceFileError listing every problem (of the document, or conflicts with stored entries);
    nothing is written then.
    """
    entries = parse_price_document(document, origin=origin)
    raw_entries = [_standalone(raw, document) for raw in document["entries"]]
    incoming = {entry.key: raw for entry, raw in zip(entries, raw_entries, strict=True)}
    now = now_us()
    with writing(engine).begin() as connection:
        stored = {o.entry.key: o.document for o in _read(connection, project_id, origin)}
        # Validated together, so an alias may not point at two models across old and new entries.
        combined = {**stored, **incoming}
        parse_price_document(
            {"schema_version": SCHEMA_VERSION, "entries": list(combined.values())}, origin=origin
        )
        replaced = [key for key in incoming if key in stored]
        if replaced:
            connection.execute(
                delete(price_overrides).where(
                    price_overrides.c.project_id == project_id,
                    _keys_clause(replaced),
                )
            )
        connection.execute(
            price_overrides.insert(),
            [_row(project_id, entry, incoming[entry.key], now) for entry in entries],
        )
        version = _bump(connection, project_id, now)
    return PutResult(sorted(set(incoming) - set(replaced)), sorted(replaced), version)


def delete_override(engine: Engine, project_id: str, provider: str, model: str) -> int:
    """Remove one override; returns the new version. Raises OverrideNotFound."""
    provider, model = provider.strip().lower(), normalize_name(model)
    with writing(engine).begin() as connection:
        result = connection.execute(
            delete(price_overrides).where(
                price_overrides.c.project_id == project_id,
                price_overrides.c.provider == provider,
                price_overrides.c.model == model,
            )
        )
        if not result.rowcount:
            raise OverrideNotFound(f"No price override for {provider}/{model} in this project.")
        return _bump(connection, project_id, now_us())


def list_overrides(engine: Engine, project_id: str) -> tuple[int, list[StoredOverride]]:
    """The project's version counter and its overrides, by provider and model."""
    with engine.connect() as connection:
        return _version(connection, project_id), _read(connection, project_id, "stored overrides")


def project_catalogue(overrides: Iterable[PriceEntry], base: PriceCatalogue | None = None) -> PriceCatalogue:
    """``base`` (default: built-in) with ``overrides`` on top, each one layered per period."""
    base = base or default_catalogue()
    entries = [_with_history(entry, base) for entry in overrides]
    return base.with_overrides(entries, layer=LAYER) if entries else base


class CatalogueCache:
    """Per-project catalogues for the ingest path; thread-safe, bounded, never raises on lookup.

    ``fresh(project)`` answers from memory (None when the project's version is due a check);
    ``load(project)`` checks the version counter (one primary-key read) and rebuilds on change.
    """

    def __init__(
        self,
        engine: Engine,
        check_seconds: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # project -> (checked at, version, catalogue)
        self._cache: dict[str, tuple[float, int, PriceCatalogue]] = {}

    def fresh(self, project_id: str) -> PriceCatalogue | None:
        cached = self._cache.get(project_id)
        if cached is not None and self._clock() - cached[0] < self._check_seconds:
            return cached[2]
        return None

    def load(self, project_id: str) -> PriceCatalogue:
        """The project's catalogue, re-read if its version changed; on a database error the last known
        one (or the built-in catalogue), so pricing never fails a request."""
        cached = self._cache.get(project_id)
        try:
            with self._engine.connect() as connection:
                version = _version(connection, project_id)
                if cached is not None and cached[1] == version:
                    catalogue = cached[2]
                elif version == 0:
                    catalogue = default_catalogue()
                else:
                    stored = _read(connection, project_id, "stored overrides")
                    catalogue = project_catalogue(o.entry for o in stored)
        except (SQLAlchemyError, PriceFileError):
            logger.exception("could not refresh the price overrides of project %s", project_id)
            version, catalogue = (cached[1], cached[2]) if cached else (-1, default_catalogue())
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[project_id] = (self._clock(), version, catalogue)
        return catalogue

    def invalidate(self, project_id: str) -> None:
        """Forget the project's catalogue (after a change through this process: visible at once)."""
        with self._lock:
            self._cache.pop(project_id, None)


def _with_history(entry: PriceEntry, base: PriceCatalogue) -> PriceEntry:
    """The override with the built-in periods of the same model that precede its first period."""
    found = base.match(entry.model, entry.provider)
    if found is None or found.key != entry.model or found.suffix or found.entry.unit is not entry.unit:
        return entry
    first = entry.periods[0].effective_us
    earlier = tuple(p for p in found.entry.periods if p.effective_us < first)
    if not earlier:
        return entry
    return dataclasses.replace(entry, periods=earlier + entry.periods)


def _standalone(raw: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    entry = dict(raw)
    for key in _INHERITED:
        if key not in entry and document.get(key) is not None:
            entry[key] = document[key]
    return entry


def _row(project_id: str, entry: PriceEntry, raw: dict[str, Any], now: int) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "provider": entry.provider,
        "model": entry.model,
        "entry": json.dumps(raw, default=_decimal_text, ensure_ascii=False),
        "created_us": now,
        "updated_us": now,
    }


def _decimal_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _keys_clause(keys: list[str]) -> Any:
    return or_(
        *(
            and_(price_overrides.c.provider == provider, price_overrides.c.model == model)
            for provider, model in (key.split("/", 1) for key in keys)
        )
    )


def _read(connection: Connection, project_id: str, origin: str) -> list[StoredOverride]:
    query = (
        select(price_overrides.c.entry, price_overrides.c.updated_us)
        .where(price_overrides.c.project_id == project_id)
        .order_by(price_overrides.c.provider, price_overrides.c.model)
    )
    rows = connection.execute(query).all()
    if not rows:
        return []
    documents = [json.loads(row.entry, parse_float=Decimal) for row in rows]
    entries = parse_price_document({"schema_version": SCHEMA_VERSION, "entries": documents}, origin=origin)
    return [
        StoredOverride(entry, json.loads(row.entry), row.updated_us)
        for entry, row in zip(entries, rows, strict=True)
    ]


def _version(connection: Connection, project_id: str) -> int:
    found = connection.execute(
        select(price_override_versions.c.version).where(price_override_versions.c.project_id == project_id)
    ).scalar_one_or_none()
    return int(found or 0)


def _bump(connection: Connection, project_id: str, now: int) -> int:
    """Add one to the project's version (an upsert, so two first changes at once both count)."""
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(price_override_versions).values(
        project_id=project_id, version=1, updated_us=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["project_id"],
        set_={"version": price_override_versions.c.version + 1, "updated_us": now},
    )
    connection.execute(statement)
    return _version(connection, project_id)


def describe_entry(entry: PriceEntry, at_us: int | None = None) -> dict[str, Any]:
    """An entry as JSON for the API and UI: identity, and the prices valid at ``at_us`` (default: now)."""
    period, before_first = entry.period_at(now_us() if at_us is None else at_us)
    prices: dict[str, Any] = {
        name: str(value) for name, value in dataclasses.asdict(period.rates).items() if value is not None
    }
    for name in ("per_request", "per_unit"):
        value = getattr(period, name)
        if value is not None:
            prices[name] = str(value)
    if period.tiers:
        prices["tiers"] = [{"above": tier.above, "input": str(tier.rates.input)} for tier in period.tiers]
    return {
        "key": entry.key,
        "provider": entry.provider,
        "model": entry.model,
        "aliases": list(entry.aliases),
        "mode": entry.mode.value,
        "unit": entry.unit.value,
        "effective": period.effective,
        "before_first_price": before_first,
        "prices": prices,
        "history": [p.effective for p in entry.periods],
    }


def effective_prices(engine: Engine, project_id: str, *, include_builtin: bool = False) -> dict[str, Any]:
    """The project's overrides (as stored and as priced now), optionally followed by the built-in list."""
    version, stored = list_overrides(engine, project_id)
    result: dict[str, Any] = {
        "version": version,
        "overrides": [
            {**describe_entry(o.entry), "document": o.document, "updated_us": o.updated_us} for o in stored
        ],
    }
    if include_builtin:
        result["builtin"] = [describe_entry(entry) for entry in default_catalogue().entries]
    return result


def explain_match(
    catalogue: PriceCatalogue, model: str, provider: str | None, at_us: int | None
) -> dict[str, Any]:
    """Which entry prices ``model`` for this project and why; ``entry`` is None when it stays unpriced."""
    found, tried = catalogue.explain(model, provider)
    if found is None:
        return {"model": model, "entry": None, "layer": None, "explanation": "unpriced", "tried": tried}
    return {
        "model": model,
        "entry": describe_entry(found.entry, at_us),
        "layer": found.layer,
        "explanation": found.explain(),
        "tried": tried,
    }
