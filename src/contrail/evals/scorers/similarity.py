"""Scorers that grade closeness: Levenshtein similarity, token-overlap F1 and numeric tolerance."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from contrail.evals.base import EvalCase, ScoreResult
from contrail.evals.scorers.base import (
    ScorerInputError,
    SyncScorer,
    expected_text,
    output_text,
    threshold_passed,
)

_TOKEN = re.compile(r"\w+")
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def levenshtein_distance(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions of one character each).

    Bit-parallel (Myers 1999, Hyyrö 2001) over Python integers: O(len(a)) big-integer steps of
    len(b) bits, so two 10,000-character texts take milliseconds, not the 10^8 steps of the table.
    """
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[str, int] = {}
    for i, char in enumerate(b):
        peq[char] = peq.get(char, 0) | (1 << i)
    mask = (1 << m) - 1
    top = 1 << (m - 1)
    pv, mv, distance = mask, 0, m
    for char in a:
        eq = peq.get(char, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask
        mh = pv & xh
        if ph & top:
            distance += 1
        elif mh & top:
            distance -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return distance


def levenshtein_similarity(a: str, b: str) -> float:
    """1 - distance / length of the longer text: 1.0 for equal texts (two empty too), 0.0 for disjoint."""
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein_distance(a, b) / longest


def token_f1(output: str, expected: str) -> float:
    """F1 of the multisets of lower-cased word tokens (SQuAD style); 1.0 when both have no tokens."""
    got = Counter(_TOKEN.findall(output.casefold()))
    want = Counter(_TOKEN.findall(expected.casefold()))
    if not got and not want:
        return 1.0
    common = sum((got & want).values())
    if common == 0:
        return 0.0
    precision = common / sum(got.values())
    recall = common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class Levenshtein(SyncScorer):
    """Normalised Levenshtein similarity of output and expected text; ``threshold`` sets ``passed``."""

    name: str = "levenshtein"
    threshold: float | None = None
    case_sensitive: bool = True

    def evaluate(self, case: EvalCase) -> ScoreResult:
        got, want = output_text(case).strip(), expected_text(case).strip()
        if not self.case_sensitive:
            got, want = got.casefold(), want.casefold()
        value = levenshtein_similarity(got, want)
        return ScoreResult(name=self.name, value=value, passed=threshold_passed(value, self.threshold))


@dataclass
class TokenOverlap(SyncScorer):
    """Token-overlap F1 of output and expected text; ``threshold`` sets ``passed``."""

    name: str = "token_overlap"
    threshold: float | None = None

    def evaluate(self, case: EvalCase) -> ScoreResult:
        value = token_f1(output_text(case), expected_text(case))
        return ScoreResult(name=self.name, value=value, passed=threshold_passed(value, self.threshold))


def parse_number(text: str, what: str) -> float:
    """The number a text states: the whole text, else its only number ("The answer is 42." → 42)."""
    stripped = text.strip()
    try:
        value = float(stripped)
    except ValueError:
        found = _NUMBER.findall(stripped)
        if len(found) != 1:
            detail = "no number" if not found else f"{len(found)} numbers"
            raise ScorerInputError(
                f"{what} must state one number, found {detail}: {stripped[:80]!r}"
            ) from None
        value = float(found[0].replace(",", ""))
    if not math.isfinite(value):
        raise ScorerInputError(f"{what} is not a finite number: {stripped[:80]!r}")
    return value


@dataclass
class NumericMatch(SyncScorer):
    """The output's number is within ``tolerance`` (absolute) or ``relative_tolerance`` of the expected."""

    name: str = "numeric"
    tolerance: float = 0.0
    relative_tolerance: float = 0.0

    def evaluate(self, case: EvalCase) -> ScoreResult:
        got = parse_number(output_text(case), "the output")
        want = parse_number(expected_text(case), "the expected output")
        difference = abs(got - want)
        allowed = max(self.tolerance, self.relative_tolerance * abs(want))
        passed = difference <= allowed
        reason = None if passed else f"{got:g} differs from {want:g} by {difference:g} (allowed {allowed:g})"
        return self.verdict(passed, reason, output=got, expected=want, difference=difference)
