"""The shared shape of built-in scorers: a name, a synchronous verdict, and no exception ever escaping."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any

from contrail.evals.base import EvalCase, ScoreResult
from contrail.evals.scorers.text import as_text

logger = logging.getLogger(__name__)


class ScorerInputError(Exception):
    """The case lacks what this scorer needs (no output, no expected value...): becomes an error result."""


class SyncScorer(ABC):
    """A scorer whose verdict is pure computation: ``evaluate`` runs inline in ``score``."""

    name: str

    async def score(self, case: EvalCase) -> ScoreResult:
        return self.score_sync(case)

    def score_sync(self, case: EvalCase) -> ScoreResult:
        """The verdict, with missing inputs and unexpected failures turned into error results."""
        try:
            return self.evaluate(case)
        except ScorerInputError as err:
            return ScoreResult(name=self.name, error=str(err))
        except Exception as err:
            # A bug or a pathological output must cost one score, not the whole experiment.
            logger.warning("scorer %r failed", self.name, exc_info=True)
            return ScoreResult(name=self.name, error=f"{type(err).__name__}: {err}")

    @abstractmethod
    def evaluate(self, case: EvalCase) -> ScoreResult: ...

    def verdict(self, passed: bool, reason: str | None = None, **metadata: Any) -> ScoreResult:
        """A pass/fail result: value 1.0 or 0.0."""
        return ScoreResult(
            name=self.name, value=1.0 if passed else 0.0, passed=passed, reason=reason, metadata=metadata
        )


def output_text(case: EvalCase) -> str:
    """The case's output as text (see ``scorers.text``); a missing output is an input error."""
    text = as_text(case.output)
    if text is None:
        raise ScorerInputError("no output to score")
    return text


def expected_text(case: EvalCase) -> str:
    """The case's expected output as text; a missing one is an input error."""
    text = as_text(case.expected)
    if text is None:
        raise ScorerInputError("no expected output to compare with")
    return text


def threshold_passed(value: float, threshold: float | None) -> bool | None:
    return None if threshold is None else value >= threshold
