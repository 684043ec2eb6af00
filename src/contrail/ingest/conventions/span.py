"""The span as a convention sees it: decoded attributes and events it may consume."""

from __future__ import annotations

import dataclasses
from typing import Any

from contrail.ingest.truncation import Truncator


@dataclasses.dataclass(slots=True)
class SpanEvent:
    """One OTLP span event; ``attributes`` are already bounded by the truncator."""

    name: str
    time_us: int
    attributes: dict[str, Any]

    def as_metadata(self) -> dict[str, Any]:
        return {"name": self.name, "time_us": self.time_us, "attributes": self.attributes}


@dataclasses.dataclass(slots=True)
class SpanInput:
    """What the conventions read, and consume.

    A convention ``pop``s each attribute it maps into a field and removes each event it maps; what
    remains is stored in ``metadata["attributes"]`` and ``metadata["events"]``, so nothing is lost.
    ``resource`` is shared by every span of one resource and must not be mutated.
    """

    attributes: dict[str, Any]
    events: list[SpanEvent]
    resource: dict[str, Any]
    scope_name: str
    start_us: int
    truncator: Truncator
