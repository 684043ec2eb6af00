"""The ASGI application: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from contrail._version import __version__
from contrail.analytics.overrides import CatalogueCache
from contrail.evals.online_worker import OnlineEvalWorker, WorkerConfig
from contrail.heap import settle_after_startup
from contrail.ingest.limits import IngestLimits
from contrail.server.alerts import AlertChecker
from contrail.server.api import alerts as alerts_api
from contrail.server.api import datasets as datasets_api
from contrail.server.api import eval_rules as eval_rules_api
from contrail.server.api import experiments as experiments_api
from contrail.server.api import health, ingest, langfuse_prompts, metrics, otlp, scores, sessions, traces
from contrail.server.api import prices as prices_api
from contrail.server.api import prompts as prompts_api
from contrail.server.auth import KeyVerifier
from contrail.server.errors import install_error_handlers
from contrail.server.middleware import RejectNulInUrl
from contrail.server.settings import Settings
from contrail.server.state import ServerState
from contrail.server.telemetry import ServerTelemetry
from contrail.server.ui import install_ui
from contrail.server.write_queue import WriteQueue
from contrail.store.database import open_engine
from contrail.store.maintenance import DatabaseUpkeep
from contrail.store.migrate import upgrade
from contrail.store.writer_process import WriterProcess

logger = logging.getLogger(__name__)


def _writer_process(settings: Settings) -> WriterProcess:
    return WriterProcess(settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous)


def create_app(
    settings: Settings | None = None, *, migrate: bool = True, owns_process: bool = False
) -> FastAPI:
    """Build the server for ``settings`` (from the environment when omitted).

    Opens the database (raising DatabaseUnavailableError with a fix when it cannot) and applies
    migrations unless ``migrate`` is False. ``owns_process`` (``contrail server``): the app is the
    process's only job, so it may tune the process's garbage collector after startup; an app
    embedded in someone's process (tests, ``contrail.testing``) leaves it alone.
    """
    settings = settings or Settings()
    engine = open_engine(
        settings.resolved_database_url(),
        sqlite_synchronous=settings.sqlite_synchronous,
        sqlite_autocheckpoint=False,
    )
    if migrate:
        upgrade(engine)
    telemetry = ServerTelemetry()
    state = ServerState(
        settings=settings,
        engine=engine,
        keys=KeyVerifier(engine, settings.key_cache_seconds),
        writes=WriteQueue(
            engine,
            max_spans=settings.write_queue_spans,
            group_spans=settings.write_group_spans,
            on_written=telemetry.write_seconds.observe,
            process=_writer_process(settings) if settings.writer_process else None,
        ),
        limits=IngestLimits(
            max_value_bytes=settings.max_value_bytes, max_spans_per_request=settings.max_spans_per_request
        ),
        upkeep=DatabaseUpkeep(engine),
        telemetry=telemetry,
        prices=CatalogueCache(engine),
        ingest_slots=asyncio.Semaphore(settings.ingest_concurrency),
    )
    alerts = AlertChecker(engine, settings)
    online = OnlineEvalWorker(engine, WorkerConfig.from_settings(settings)) if settings.online_evals else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.writes.start()  # starts the writer process now rather than on the first request
        state.upkeep.start()
        alerts.start()
        if online is not None:
            online.start()
        if owns_process:
            settle_after_startup()
        yield
        if online is not None:
            online.stop()
        alerts.stop()
        await state.close()

    app = FastAPI(
        title="Contrail",
        version=__version__,
        description="Open-source LLMOps: traces, cost and latency, prompts and evaluations.",
        lifespan=lifespan,
    )
    app.state.contrail = state
    app.state.contrail_alerts = alerts
    install_error_handlers(app)
    app.add_middleware(RejectNulInUrl)
    for module in (
        health,
        otlp,
        ingest,
        traces,
        sessions,
        scores,
        metrics,
        alerts_api,
        prices_api,
        datasets_api,
        experiments_api,
        eval_rules_api,
        prompts_api,
        langfuse_prompts,
    ):
        app.include_router(module.router)
    install_ui(app)
    return app


def create_worker_app() -> FastAPI:
    """App factory for each process of ``contrail server --workers N`` (the parent has migrated)."""
    return create_app(Settings(), migrate=False, owns_process=True)
