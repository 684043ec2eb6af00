"""Scorers on how a call went rather than what it said: latency and cost ceilings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contrail.evals.base import EvalCase, ScoreResult
from contrail.evals.scorers.base import ScorerInputError, SyncScorer


@dataclass
class LatencyBelow(SyncScorer):
    """Passes when the case's latency is at most ``max_seconds``; no recorded latency is an error."""

    max_seconds: float
    name: str = "latency"

    def evaluate(self, case: EvalCase) -> ScoreResult:
        if case.latency_seconds is None:
            raise ScorerInputError("no latency recorded for this case")
        seconds = case.latency_seconds
        passed = seconds <= self.max_seconds
        reason = None if passed else f"{seconds:.3f} s exceeds {self.max_seconds:g} s"
        return self.verdict(passed, reason, latency_seconds=seconds)


@dataclass
class CostBelow(SyncScorer):
    """Passes when the case's cost is at most ``max_usd``; no recorded cost is an error."""

    max_usd: Decimal
    name: str = "cost"

    def evaluate(self, case: EvalCase) -> ScoreResult:
        if case.cost_usd is None:
            raise ScorerInputError("no cost recorded for this case")
        cost = Decimal(case.cost_usd)
        passed = cost <= self.max_usd
        reason = None if passed else f"${cost} exceeds ${self.max_usd}"
        return self.verdict(passed, reason, cost_usd=str(cost))
