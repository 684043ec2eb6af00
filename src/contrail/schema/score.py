"""Scores: numeric, categorical or boolean judgements attached to a trace or an observation."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


class ScoreDataType(str, enum.Enum):
    NUMERIC = "NUMERIC"
    CATEGORICAL = "CATEGORICAL"
    BOOLEAN = "BOOLEAN"


class ScoreSource(str, enum.Enum):
    API = "API"
    SDK = "SDK"
    ANNOTATION = "ANNOTATION"
    EVAL = "EVAL"


@dataclasses.dataclass(slots=True)
class Score:
    id: str
    trace_id: str | None
    name: str
    timestamp_us: int
    value: float | None = None
    string_value: str | None = None
    data_type: ScoreDataType = ScoreDataType.NUMERIC
    observation_id: str | None = None
    session_id: str | None = None
    source: ScoreSource = ScoreSource.API
    comment: str | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    environment: str | None = None
