"""``build_scorer``: a Scorer from a YAML/JSON spec such as ``{"type": "contains", "value": "Paris"}``.

Every spec has a ``type`` and an optional ``name`` (the score's name; default the type). Unknown types,
unknown fields (usually typos) and bad values raise ValueError naming the field, at build time rather
than halfway through an experiment.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from contrail.evals.base import Scorer
from contrail.evals.scorers.function import as_scorer
from contrail.evals.scorers.matching import Contains, ExactMatch, JsonSchemaMatch, JsonValid, RegexMatch
from contrail.evals.scorers.similarity import Levenshtein, NumericMatch, TokenOverlap
from contrail.evals.scorers.thresholds import CostBelow, LatencyBelow


class SpecReader:
    """Typed access to a spec's fields; remembers which were read so leftovers can be reported."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.kind = str(spec["type"])
        self.used = {"type", "name"}

    def get(
        self, key: str, kinds: type | tuple[type, ...], default: Any = None, required: bool = False
    ) -> Any:
        self.used.add(key)
        if key not in self.spec or self.spec[key] is None:
            if required:
                raise ValueError(f"scorer type {self.kind!r} needs the field {key!r}")
            return default
        value = self.spec[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
            expected = " or ".join(k.__name__ for k in _tuple(kinds))
            raise ValueError(
                f"field {key!r} of scorer type {self.kind!r} must be {expected}, not {type(value).__name__}"
            )
        return value

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        low: float = 0.0,
        high: float = math.inf,
        required: bool = False,
    ) -> Any:
        value = self.get(key, (int, float), default, required=required)
        if value is not None and not (low <= float(value) <= high):
            raise ValueError(
                f"field {key!r} of scorer type {self.kind!r} must be between {low:g} and {high:g}"
            )
        return None if value is None else float(value)

    def check_unused(self) -> None:
        unknown = sorted(set(self.spec) - self.used)
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(map(repr, unknown))} for scorer type {self.kind!r}"
            )


def _tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _names(s: SpecReader) -> dict[str, Any]:
    name = s.get("name", str)
    return {} if name is None else {"name": name}


def _exact(s: SpecReader) -> Scorer:
    return ExactMatch(
        case_sensitive=s.get("case_sensitive", bool, True), strip=s.get("strip", bool, True), **_names(s)
    )


def _contains(s: SpecReader) -> Scorer:
    value = s.get("value", (str, list))
    values = [value] if isinstance(value, str) else list(value or [])
    if not all(isinstance(v, str) and v for v in values):
        raise ValueError(
            "field 'value' of scorer type 'contains' must be a non-empty string or a list of them"
        )
    return Contains(values=values, case_sensitive=s.get("case_sensitive", bool, True), **_names(s))


def _regex(s: SpecReader) -> Scorer:
    return RegexMatch(
        pattern=s.get("pattern", str, required=True),
        ignore_case=s.get("ignore_case", bool, False),
        full_match=s.get("full_match", bool, False),
        **_names(s),
    )


def _json_valid(s: SpecReader) -> Scorer:
    return JsonValid(**_names(s))


def _json_schema(s: SpecReader) -> Scorer:
    return JsonSchemaMatch(schema=s.get("schema", dict, required=True), **_names(s))


def _levenshtein(s: SpecReader) -> Scorer:
    return Levenshtein(
        threshold=s.number("threshold", high=1.0),
        case_sensitive=s.get("case_sensitive", bool, True),
        **_names(s),
    )


def _token_overlap(s: SpecReader) -> Scorer:
    return TokenOverlap(threshold=s.number("threshold", high=1.0), **_names(s))


def _numeric(s: SpecReader) -> Scorer:
    return NumericMatch(
        tolerance=s.number("tolerance", 0.0),
        relative_tolerance=s.number("relative_tolerance", 0.0),
        **_names(s),
    )


def _latency(s: SpecReader) -> Scorer:
    return LatencyBelow(max_seconds=s.number("max_seconds", required=True), **_names(s))


def _cost(s: SpecReader) -> Scorer:
    raw = s.get("max_usd", (str, int, float), required=True)
    try:
        limit = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"field 'max_usd' of scorer type 'cost' is not a number: {raw!r}") from None
    if not limit.is_finite() or limit < 0:
        raise ValueError(f"field 'max_usd' of scorer type 'cost' must be a non-negative amount: {raw!r}")
    return CostBelow(max_usd=limit, **_names(s))


def _judge(s: SpecReader) -> Scorer:
    from contrail.evals.judge import build_judge

    return build_judge(s)


def _embedding(s: SpecReader) -> Scorer:
    from contrail.evals.embeddings import EmbeddingSimilarity

    return EmbeddingSimilarity(threshold=s.number("threshold", low=-1.0, high=1.0), **_names(s))


def _python(s: SpecReader) -> Scorer:
    target = s.get("function", str, required=True)
    obj = load_object(target)
    if isinstance(obj, Scorer) and not isinstance(obj, type):
        return obj
    try:
        return as_scorer(obj, name=s.get("name", str))
    except ValueError as err:
        raise ValueError(f"field 'function' of scorer type 'python': {err}") from None


def load_object(target: str, what: str = "field 'function'") -> Any:
    """Import ``module:attribute`` (dotted attributes allowed); ValueError starting with ``what`` and naming
    what is missing."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{what} must look like 'package.module:function', got {target!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"{what}: cannot import module {module_name!r} ({err})") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{what}: {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    return obj


BUILDERS: dict[str, Callable[[SpecReader], Scorer]] = {
    "exact": _exact,
    "contains": _contains,
    "regex": _regex,
    "json_valid": _json_valid,
    "json_schema": _json_schema,
    "levenshtein": _levenshtein,
    "token_overlap": _token_overlap,
    "numeric": _numeric,
    "latency": _latency,
    "cost": _cost,
    "embedding_similarity": _embedding,
    "judge": _judge,
    "python": _python,
}


def build_scorer(spec: Mapping[str, Any]) -> Scorer:
    """A Scorer from ``spec``; ValueError naming the field for an unknown type or a bad/unknown field."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"a scorer spec must be a mapping with a 'type', not {type(spec).__name__}")
    kind = spec.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError("a scorer spec needs a 'type' (one of: " + ", ".join(sorted(BUILDERS)) + ")")
    builder = BUILDERS.get(kind)
    if builder is None:
        raise ValueError(f"unknown scorer type {kind!r}; known types: {', '.join(sorted(BUILDERS))}")
    parsed = SpecReader(spec)
    scorer = builder(parsed)
    parsed.check_unused()
    return scorer
