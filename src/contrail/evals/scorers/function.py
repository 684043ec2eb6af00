"""``as_scorer``: turn a plain Python function into a Scorer.

The function may be sync or async and take either the whole case (one positional parameter, or one
named ``case``) or some of the case's fields as keywords (``input``, ``output``, ``expected``,
``metadata``, ``context``, ``latency_seconds``, ``cost_usd``, ``trace_id``). It may return:

- a ``bool`` → value 1.0/0.0 and ``passed``;
- a number (int, float, Decimal) → value;
- a ``str`` → label;
- a dict with any of ``value``/``score``, ``label``, ``passed``, ``reason``, ``metadata``;
- a ``ScoreResult`` (renamed to the scorer's name, so one scorer always writes one score name).

An exception, ``None``, NaN/infinity or any other type becomes a result with ``error`` set.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from contrail.evals.base import EvalCase, ScoreResult

logger = logging.getLogger(__name__)

CASE_FIELDS = frozenset(
    {"input", "output", "expected", "metadata", "context", "latency_seconds", "cost_usd", "trace_id"}
)
_DICT_KEYS = frozenset({"value", "score", "label", "passed", "reason", "metadata", "name"})


class _BadReturn(Exception):
    pass


def _call_style(fn: Callable[..., Any]) -> tuple[str, tuple[str, ...]]:
    """("case", ()) to pass the case, or ("fields", names) to pass those fields as keywords."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return "case", ()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return "fields", tuple(sorted(CASE_FIELDS))
    named = [p for p in params if p.kind is not p.VAR_POSITIONAL and p.name in CASE_FIELDS]
    if named:
        required = [p for p in params if p.default is p.empty and p.kind is not p.VAR_POSITIONAL]
        unknown = [p.name for p in required if p.name not in CASE_FIELDS]
        if unknown:
            raise ValueError(
                f"scorer function {_describe(fn)} has parameters {unknown} that are not case fields "
                f"({', '.join(sorted(CASE_FIELDS))}); take the case as the only parameter instead"
            )
        return "fields", tuple(p.name for p in named)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not positional and not any(p.kind is p.VAR_POSITIONAL for p in params):
        raise ValueError(f"scorer function {_describe(fn)} takes no parameters; it needs the case")
    return "case", ()


def _describe(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def to_result(name: str, returned: Any) -> ScoreResult:
    """Convert what a scorer function returned into a ScoreResult (error result for anything unusable)."""
    try:
        return _convert(name, returned)
    except _BadReturn as err:
        return ScoreResult(name=name, error=str(err))


def _convert(name: str, returned: Any) -> ScoreResult:
    if isinstance(returned, ScoreResult):
        return returned if returned.name == name else replace(returned, name=name)
    if returned is None:
        raise _BadReturn("the scorer returned None instead of a verdict")
    if isinstance(returned, bool):
        return ScoreResult(name=name, value=1.0 if returned else 0.0, passed=returned)
    if isinstance(returned, (int, float, Decimal)):
        return ScoreResult(name=name, value=_finite(returned))
    if isinstance(returned, str):
        return ScoreResult(name=name, label=returned)
    if isinstance(returned, Mapping):
        return _from_mapping(name, returned)
    raise _BadReturn(f"the scorer returned a {type(returned).__name__}; return a bool, number, str or dict")


def _finite(number: Any) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise _BadReturn(f"the scorer returned a non-finite number ({value})")
    return value


def _from_mapping(name: str, returned: Mapping[str, Any]) -> ScoreResult:
    unknown = sorted(str(k) for k in returned if k not in _DICT_KEYS)
    if unknown:
        raise _BadReturn(f"the scorer returned unknown keys {unknown}; use metadata for extra data")
    raw_value = returned.get("value", returned.get("score"))
    value: float | None = None
    passed = returned.get("passed")
    if isinstance(raw_value, bool):
        value, passed = (1.0 if raw_value else 0.0), raw_value if passed is None else passed
    elif raw_value is not None:
        if not isinstance(raw_value, (int, float, Decimal)):
            raise _BadReturn(f"the scorer's value must be a number, not {type(raw_value).__name__}")
        value = _finite(raw_value)
    label, reason, metadata = returned.get("label"), returned.get("reason"), returned.get("metadata") or {}
    if value is None and label is None and passed is None:
        raise _BadReturn("the scorer returned a dict with no value, label or passed")
    if passed is not None and not isinstance(passed, bool):
        raise _BadReturn("the scorer's 'passed' must be a bool")
    if not isinstance(metadata, Mapping):
        raise _BadReturn("the scorer's 'metadata' must be a dict")
    return ScoreResult(
        name=name,
        value=value,
        label=None if label is None else str(label),
        passed=passed,
        reason=None if reason is None else str(reason),
        metadata=dict(metadata),
    )


@dataclass
class FunctionScorer:
    """A Scorer around a plain function (see the module docstring for what it may take and return)."""

    fn: Callable[..., Any]
    name: str
    _style: tuple[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._style = _call_style(self.fn)

    async def score(self, case: EvalCase) -> ScoreResult:
        try:
            returned = self._call(case)
            if inspect.isawaitable(returned):
                returned = await returned
        except Exception as err:
            logger.debug("scorer function %r raised", self.name, exc_info=True)
            return ScoreResult(name=self.name, error=f"{type(err).__name__}: {err}")
        return to_result(self.name, returned)

    def _call(self, case: EvalCase) -> Any | Awaitable[Any]:
        style, names = self._style
        if style == "case":
            return self.fn(case)
        return self.fn(**{n: getattr(case, n) for n in names})


def as_scorer(fn: Callable[..., Any], name: str | None = None) -> FunctionScorer:
    """Wrap ``fn`` as a Scorer named ``name`` (default: the function's name).

    Raises ValueError when ``fn`` is not callable or its parameters cannot be fed from a case.
    """
    if not callable(fn):
        raise ValueError(f"as_scorer needs a function, got {type(fn).__name__}")
    scorer_name = name or getattr(fn, "__name__", None) or type(fn).__name__
    return FunctionScorer(fn=fn, name=scorer_name)
