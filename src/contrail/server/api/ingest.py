"""Native (Contrail SDK) and Langfuse-compatible JSON ingestion."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["ingestion"])
