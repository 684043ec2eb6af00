"""LLM-as-judge: rubrics, robust answer parsing and a retrying, bounded judge scorer.

``LLMJudge(rubric=RUBRICS["correctness"], model=..., base_url=...)`` in Python, or the scorer spec
``{"type": "judge", "rubric": "correctness", "model": ..., "base_url": ..., "api_key_env": ...}``
(see docs/evals-scorers.md).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from contrail.evals.judge.llm import JudgeCallError, LLMJudge
from contrail.evals.judge.parsing import Judgement, JudgeParseError, parse_judgement
from contrail.evals.judge.rubrics import RUBRICS, Rubric

if TYPE_CHECKING:
    from contrail.evals.scorers.spec import SpecReader

__all__ = [
    "RUBRICS",
    "JudgeCallError",
    "JudgeParseError",
    "Judgement",
    "LLMJudge",
    "Rubric",
    "build_judge",
    "parse_judgement",
]

_SCALES = {"binary": None, "1-5": (1, 5), "1-10": (1, 10), "0-10": (0, 10), "1-3": (1, 3)}


def _rubric(s: SpecReader) -> Rubric:
    name = s.get("rubric", str)
    criteria = s.get("criteria", str)
    scale = s.get("scale", str)
    if criteria is not None:
        if name is not None and name in RUBRICS:
            raise ValueError("give either a built-in 'rubric' or custom 'criteria', not both")
        if scale is not None and scale not in _SCALES:
            raise ValueError(f"field 'scale' of scorer type 'judge' must be one of {', '.join(_SCALES)}")
        bounds = _SCALES[scale or "1-5"]
        if bounds is None:
            return Rubric(name or "custom", criteria, binary=True)
        return Rubric(name or "custom", criteria, low=bounds[0], high=bounds[1])
    if name is None:
        raise ValueError(f"scorer type 'judge' needs 'rubric' (one of {', '.join(RUBRICS)}) or 'criteria'")
    if name not in RUBRICS:
        raise ValueError(
            f"unknown judge rubric {name!r}; built-in rubrics: {', '.join(RUBRICS)} (or give 'criteria')"
        )
    if scale is not None:
        raise ValueError("field 'scale' only applies to custom 'criteria'")
    return RUBRICS[name]


def build_judge(s: SpecReader) -> LLMJudge:
    """An LLMJudge from a ``{"type": "judge", ...}`` spec (fields validated, ValueError naming them).

    The API key is read from the environment variable named by ``api_key_env`` (never written in the
    spec); without it the openai client's own default (OPENAI_API_KEY) applies, and local endpoints
    (127.0.0.1/localhost) need none.
    """
    rubric = _rubric(s)
    key_env = s.get("api_key_env", str)
    api_key = None
    if key_env is not None:
        api_key = os.environ.get(key_env)
        if not api_key:
            raise ValueError(f"field 'api_key_env': the environment variable {key_env!r} is not set")
    options = {
        "timeout_s": s.number("timeout_seconds", 30.0, low=0.001),
        "max_retries": s.get("max_retries", int, 4),
        "concurrency": s.get("concurrency", int, 8),
        "temperature": s.number("temperature", 0.0, high=2.0),
        "max_tokens": s.get("max_tokens", int, 400),
    }
    try:
        return LLMJudge(
            rubric=rubric,
            model=s.get("model", str, required=True),
            name=s.get("name", str, ""),
            base_url=s.get("base_url", str),
            api_key=api_key,
            threshold=s.number("threshold", high=1.0),
            **options,
        )
    except ValueError as err:
        raise ValueError(f"scorer type 'judge': {err}") from None
