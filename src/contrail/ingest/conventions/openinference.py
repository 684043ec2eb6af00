"""openinference convention (being written)."""

from __future__ import annotations

from contrail.ingest.conventions.span import SpanInput
from contrail.schema.observation import Observation


def applies(span: SpanInput) -> bool:
    return False


def apply(span: SpanInput, obs: Observation) -> None:
    return None
