"""Importable objects for the ``{"type": "python", "function": ...}`` scorer spec tests."""

from __future__ import annotations

from contrail.evals.base import EvalCase, ScoreResult


def starts_with_expected(output: str, expected: str) -> bool:
    return output.startswith(expected)


class Shouty:
    name = "shouty"

    async def score(self, case: EvalCase) -> ScoreResult:
        return ScoreResult(name=self.name, value=float(str(case.output).isupper()))


SHOUTY = Shouty()
NOT_CALLABLE = 42
