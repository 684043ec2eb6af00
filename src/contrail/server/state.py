"""What the running server holds: settings, engine, key verifier and write queue."""

from __future__ import annotations

import dataclasses

from fastapi import Request
from sqlalchemy import Engine

from contrail.ingest.limits import IngestLimits
from contrail.server.auth import KeyVerifier, Principal
from contrail.server.settings import Settings
from contrail.server.write_queue import WriteQueue
from contrail.store.maintenance import SqliteUpkeep


@dataclasses.dataclass(slots=True)
class ServerState:
    settings: Settings
    engine: Engine
    keys: KeyVerifier
    writes: WriteQueue
    limits: IngestLimits
    upkeep: SqliteUpkeep

    async def close(self) -> None:
        await self.writes.stop()
        self.upkeep.stop()
        self.engine.dispose()


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.contrail
    return state


async def principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller (401 otherwise)."""
    return await server_state(request).keys.authenticate(request)
