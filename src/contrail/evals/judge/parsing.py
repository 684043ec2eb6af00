"""Reading a judge's answer: JSON (bare, fenced or embedded), "Score: 4", "4/5", or yes/no.

``parse_judgement`` either returns a normalised verdict or raises ``JudgeParseError`` with the reason;
it never guesses a number, so an unreadable answer becomes an error result, not a NaN or a zero.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contrail.evals.judge.rubrics import Rubric

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_SCORE_LINE = re.compile(
    r"\b(?:score|rating|grade|rate|rated)\b\s*(?:is|of|it|this|the response)?\s*(?:an?|as)?\s*[:=]?\s*\**\s*"
    r"(-?\d+(?:\.\d+)?)(?:\s*(?:/|out of)\s*(\d+))?",
    re.IGNORECASE,
)
_VERDICT_LINE = re.compile(
    r"\b(?:verdict|answer)\b\s*[:=]\s*\**\s*\"?(yes|no|true|false|pass|fail)\b", re.IGNORECASE
)
_LEADING_WORD = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\s*\**(-?\d+(?:\.\d+)?)\**\s*(?:/\s*(\d+))?\s*\.?\s*$")
_SCORE_KEYS = ("score", "rating", "grade", "value")
_VERDICT_KEYS = ("verdict", "answer", "label", "result", "judgement", "judgment")
_REASON_KEYS = ("reasoning", "reason", "explanation", "rationale")
_YES = {"yes", "true", "pass", "y"}
_NO = {"no", "false", "fail", "n"}


class JudgeParseError(ValueError):
    """The judge's answer holds no readable verdict on the rubric's scale."""


@dataclass(frozen=True, slots=True)
class Judgement:
    """A read verdict: ``value`` in 0..1 (higher is better), the label, and the judge's reasoning."""

    value: float
    label: str
    reasoning: str | None
    raw_score: float | None = None


def parse_judgement(text: str | None, rubric: Rubric) -> Judgement:
    """Read ``text`` on ``rubric``'s scale; JudgeParseError when there is nothing readable."""
    if text is None or not text.strip():
        raise JudgeParseError("the judge gave an empty answer")
    document = _find_json(text)
    if document is not None:
        return _from_json(document, rubric)
    return _from_text(text, rubric)


def _find_json(text: str) -> Mapping[str, Any] | None:
    """The first JSON object holding a verdict: in a code fence, the whole text, or embedded."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        stripped = candidate.strip()
        for start in [i for i, ch in enumerate(stripped) if ch == "{"][:20]:
            try:
                value, _ = decoder.raw_decode(stripped, start)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict) and any(k.lower() in _SCORE_KEYS + _VERDICT_KEYS for k in value):
                return {k.lower(): v for k, v in value.items()}
    return None


def _from_json(document: Mapping[str, Any], rubric: Rubric) -> Judgement:
    reasoning = next((str(document[k]) for k in _REASON_KEYS if document.get(k) is not None), None)
    score = next((document[k] for k in _SCORE_KEYS if k in document), None)
    verdict = next((document[k] for k in _VERDICT_KEYS if k in document), None)
    if rubric.binary:
        answer = verdict if verdict is not None else score
        return _binary(_yes_no(answer), rubric, reasoning)
    if isinstance(score, str):
        return _from_text(f"score: {score}", rubric, reasoning)
    if score is None or isinstance(score, bool) or not isinstance(score, (int, float)):
        raise JudgeParseError(f"the judge's JSON has no numeric score ({json.dumps(document)[:120]})")
    return _numeric(float(score), None, rubric, reasoning)


def _yes_no(answer: Any) -> bool:
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, (int, float)) and answer in (0, 1):
        return bool(answer)
    if isinstance(answer, str) and answer.strip().lower() in _YES | _NO:
        return answer.strip().lower() in _YES
    raise JudgeParseError(f"the judge's verdict is not yes or no: {str(answer)[:80]!r}")


def _from_text(text: str, rubric: Rubric, reasoning: str | None = None) -> Judgement:
    reasoning = reasoning if reasoning is not None else text.strip()[:2000]
    if rubric.binary:
        match = _VERDICT_LINE.search(text) or _LEADING_WORD.search(text)
        if match is None:
            raise JudgeParseError("no yes/no verdict in the judge's answer")
        return _binary(_yes_no(match.group(1)), rubric, reasoning)
    match = _BARE_NUMBER.match(text) or _SCORE_LINE.search(text)
    if match is None:
        raise JudgeParseError("no score in the judge's answer")
    out_of = int(match.group(2)) if match.group(2) else None
    return _numeric(float(match.group(1)), out_of, rubric, reasoning)


def _numeric(score: float, out_of: int | None, rubric: Rubric, reasoning: str | None) -> Judgement:
    if out_of is not None and out_of != rubric.high:
        raise JudgeParseError(f"the judge scored out of {out_of}, not out of {rubric.high}")
    if not math.isfinite(score) or not rubric.low <= score <= rubric.high:
        raise JudgeParseError(f"score {score:g} is outside the scale {rubric.low}-{rubric.high}")
    value = (score - rubric.low) / (rubric.high - rubric.low)
    label = str(int(score)) if score.is_integer() else f"{score:g}"
    return Judgement(value=value, label=label, reasoning=reasoning, raw_score=score)


def _binary(said_yes: bool, rubric: Rubric, reasoning: str | None) -> Judgement:
    good = said_yes == rubric.yes_is_good
    return Judgement(value=1.0 if good else 0.0, label=rubric.labels[0 if good else 1], reasoning=reasoning)
