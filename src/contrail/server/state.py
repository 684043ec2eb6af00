"""What the running server holds (settings, engine, key verifier, write queue), and the request helpers
that reach it."""

from __future__ import annotations

import asyncio
import dataclasses

from fastapi import Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from contrail.analytics.catalogue import PriceCatalogue
from contrail.analytics.overrides import CatalogueCache
from contrail.ingest.limits import IngestLimits
from contrail.schema.timeconv import now_us
from contrail.server.auth import KeyVerifier, Principal
from contrail.server.errors import ApiError
from contrail.server.settings import Settings
from contrail.server.telemetry import ServerTelemetry
from contrail.server.write_queue import QueueFullError, WriteQueue, WriterStoppedError
from contrail.store.maintenance import DatabaseUpkeep
from contrail.store.writer import WriteBatch
from contrail.store.writer_process import WriterProcessRestartedError


@dataclasses.dataclass(slots=True)
class ServerState:
    settings: Settings
    engine: Engine
    keys: KeyVerifier
    writes: WriteQueue
    limits: IngestLimits
    upkeep: DatabaseUpkeep
    telemetry: ServerTelemetry
    prices: CatalogueCache
    # Held from reading an ingest body until its commit: each holder keeps ~1 MB per 100 spans of
    # decoded data, the others only their connection (see Settings.ingest_concurrency).
    ingest_slots: asyncio.Semaphore

    async def close(self) -> None:
        await self.writes.stop()
        self.upkeep.stop()
        self.engine.dispose()
        self.telemetry.close()


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.contrail
    return state


async def principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller (401 otherwise)."""
    return await server_state(request).keys.authenticate(request)


async def project_prices(request: Request, project_id: str) -> PriceCatalogue:
    """The project's price catalogue (built-in + its overrides), from memory unless due a version check."""
    cache = server_state(request).prices
    found = cache.fresh(project_id)
    return found if found is not None else await run_in_threadpool(cache.load, project_id)


async def submit(request: Request, batch: WriteBatch, endpoint: str) -> None:
    """Hand a batch to the writer and wait for its commit; 503 + Retry-After under backpressure.

    The batch's observation list is emptied (the caller's list with it) once its rows are prepared:
    the writer needs only the rows, and a request waiting for its commit then holds about half the
    memory (the observations were 420 of ~850 KB per 100 spans of 1 KB text)."""
    state = server_state(request)
    telemetry = state.telemetry
    batch.prepare(now_us())
    accepted = len(batch.observations) + len(batch.scores)
    llm_totals = telemetry.llm.totals(batch.project_id, batch.observations)
    batch.observations.clear()
    try:
        await state.writes.submit(batch)
    except QueueFullError as exc:
        raise ApiError(
            503,
            "overloaded",
            "The write queue is full; retry later.",
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    except WriterStoppedError as exc:
        raise ApiError(
            503, "shutting_down", "The server is shutting down.", headers={"Retry-After": "5"}
        ) from exc
    except WriterProcessRestartedError as exc:
        raise ApiError(
            503, "writer_restarted", f"{exc}; nothing was stored, retry.", headers={"Retry-After": "1"}
        ) from exc
    telemetry.spans.labels(endpoint, "accepted").inc(accepted)
    telemetry.llm.record(batch.project_id, llm_totals)
    # Kept current here, not only when scraped: another worker may answer the scrape.
    telemetry.pending.set(state.writes.pending_spans)


def count_rejected(request: Request, endpoint: str, count: int) -> None:
    if count:
        server_state(request).telemetry.spans.labels(endpoint, "rejected").inc(count)
