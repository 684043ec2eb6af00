"""The contract between scorers, the experiment runner and online evaluation.

A scorer looks at one ``EvalCase`` (what went in, what came out, what was expected) and returns a
``ScoreResult``. A scorer that cannot decide (a judge answering garbage, a regex on a missing
output) returns a result with ``error`` set and ``value`` None: never NaN, never a made-up number.
Scorers are async so judges can call providers concurrently; plain sync functions are adapted by
``contrail.evals.scorers.as_scorer``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class EvalCase:
    """One thing to score: a dataset item run through a target, or a production trace."""

    input: Any
    output: Any
    expected: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # Retrieved context for faithfulness judges, when the target reports it.
    context: str | None = None
    latency_seconds: float | None = None
    cost_usd: Decimal | None = None
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """A scorer's verdict. ``value`` is numeric (booleans as 1.0/0.0); ``label`` is categorical."""

    name: str
    value: float | None = None
    label: str | None = None
    passed: bool | None = None
    reason: str | None = None
    # Set when the scorer could not produce a verdict; value and label are then None.
    error: str | None = None
    # The judge's raw answer, kept for debugging and calibration.
    raw: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"score {self.name!r} is not finite ({self.value}); return an error instead")

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Scorer(Protocol):
    """Anything with a name and an async ``score``; must not raise for bad outputs (return an error).

    A scorer holding resources (an LLM judge's HTTP client) also has ``async aclose()``; whoever
    finishes with scorers calls :func:`close_scorers`.
    """

    name: str

    async def score(self, case: EvalCase) -> ScoreResult: ...


async def close_scorers(scorers: Iterable[object]) -> None:
    """Call ``aclose()`` on the scorers that have one (judges close the HTTP clients they opened)."""
    for scorer in scorers:
        aclose = getattr(scorer, "aclose", None)
        if callable(aclose):
            await aclose()
