"""Scorers: deterministic checks, function wrappers and the spec builder.

``as_scorer(fn)`` wraps a plain function; ``build_scorer(spec)`` builds any scorer from a YAML/JSON spec
(see docs/evals-scorers.md). Embedding similarity lives in ``contrail.evals.embeddings`` and the LLM
judge in ``contrail.evals.judge``; both load lazily.
"""

from __future__ import annotations

from contrail.evals.scorers.function import FunctionScorer, as_scorer
from contrail.evals.scorers.matching import Contains, ExactMatch, JsonSchemaMatch, JsonValid, RegexMatch
from contrail.evals.scorers.similarity import (
    Levenshtein,
    NumericMatch,
    TokenOverlap,
    levenshtein_distance,
    levenshtein_similarity,
    token_f1,
)
from contrail.evals.scorers.spec import build_scorer
from contrail.evals.scorers.text import as_text
from contrail.evals.scorers.thresholds import CostBelow, LatencyBelow

__all__ = [
    "Contains",
    "CostBelow",
    "ExactMatch",
    "FunctionScorer",
    "JsonSchemaMatch",
    "JsonValid",
    "LatencyBelow",
    "Levenshtein",
    "NumericMatch",
    "RegexMatch",
    "TokenOverlap",
    "as_scorer",
    "as_text",
    "build_scorer",
    "levenshtein_distance",
    "levenshtein_similarity",
    "token_f1",
]
