"""Scorers that check an output's form: exact match, substring, regular expression, JSON, JSON Schema."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contrail.evals.base import EvalCase, ScoreResult
from contrail.evals.scorers.base import ScorerInputError, SyncScorer, expected_text, output_text

_REASON_LIMIT = 300


def _fold(text: str, case_sensitive: bool, strip: bool) -> str:
    text = text.strip() if strip else text
    return text if case_sensitive else text.casefold()


@dataclass
class ExactMatch(SyncScorer):
    """Output text equals the expected text (surrounding whitespace ignored unless ``strip=False``)."""

    name: str = "exact"
    case_sensitive: bool = True
    strip: bool = True

    def evaluate(self, case: EvalCase) -> ScoreResult:
        got = _fold(output_text(case), self.case_sensitive, self.strip)
        want = _fold(expected_text(case), self.case_sensitive, self.strip)
        return self.verdict(got == want, None if got == want else "output differs from the expected output")


@dataclass
class Contains(SyncScorer):
    """Output contains every one of ``values`` (default: the expected output, or each string of an
    expected list)."""

    name: str = "contains"
    values: Sequence[str] = ()
    case_sensitive: bool = True

    def evaluate(self, case: EvalCase) -> ScoreResult:
        text = _fold(output_text(case), self.case_sensitive, strip=False)
        needles = list(self.values) or _expected_needles(case)
        missing = [n for n in needles if _fold(n, self.case_sensitive, strip=False) not in text]
        reason = None if not missing else "missing: " + ", ".join(repr(m) for m in missing)
        return self.verdict(not missing, reason)


def _expected_needles(case: EvalCase) -> list[str]:
    """The expected output as needles: a list of strings is several, anything else one text."""
    expected = case.expected
    if isinstance(expected, (list, tuple)) and expected and all(isinstance(e, str) for e in expected):
        return list(expected)
    return [expected_text(case)]


@dataclass
class RegexMatch(SyncScorer):
    """Output matches ``pattern`` (``re.search``; the whole text with ``full_match``)."""

    pattern: str
    name: str = "regex"
    ignore_case: bool = False
    full_match: bool = False
    _compiled: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self._compiled = re.compile(self.pattern, re.IGNORECASE if self.ignore_case else 0)
        except re.error as err:
            raise ValueError(f"invalid regular expression in 'pattern' ({err}): {self.pattern!r}") from None

    def evaluate(self, case: EvalCase) -> ScoreResult:
        text = output_text(case)
        match = self._compiled.fullmatch(text) if self.full_match else self._compiled.search(text)
        return self.verdict(match is not None, None if match else "no match for the pattern")


def parse_json_output(case: EvalCase) -> Any:
    """The output as a JSON value: dicts and lists are taken as they are, text is parsed."""
    if isinstance(case.output, (Mapping, list)):
        return case.output
    text = output_text(case)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise _InvalidJson(f"output is not valid JSON: {err}") from None


class _InvalidJson(Exception):
    pass


@dataclass
class JsonValid(SyncScorer):
    """Output is (or parses as) a JSON value."""

    name: str = "json_valid"

    def evaluate(self, case: EvalCase) -> ScoreResult:
        try:
            parse_json_output(case)
        except _InvalidJson as err:
            return self.verdict(False, str(err))
        return self.verdict(True)


@dataclass
class JsonSchemaMatch(SyncScorer):
    """Output parses as JSON and validates against ``schema`` (checked when the scorer is built)."""

    schema: Mapping[str, Any]
    name: str = "json_schema"
    _validator: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        import jsonschema  # type: ignore[import-untyped]

        if not isinstance(self.schema, Mapping):
            raise ValueError(f"'schema' must be a JSON object, not {type(self.schema).__name__}")
        cls = jsonschema.validators.validator_for(self.schema)
        try:
            cls.check_schema(self.schema)
        except jsonschema.SchemaError as err:
            raise ValueError(f"invalid JSON Schema in 'schema': {err.message}") from None
        self._validator = cls(self.schema)

    def evaluate(self, case: EvalCase) -> ScoreResult:
        try:
            document = parse_json_output(case)
        except _InvalidJson as err:
            return self.verdict(False, str(err))
        from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

        errors = list(self._validator.iter_errors(document))
        if not errors:
            return self.verdict(True)
        first = best_match(errors)
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        reason = f"{where}: {first.message}"[:_REASON_LIMIT]
        return self.verdict(False, reason, errors=len(errors))


__all__ = ["Contains", "ExactMatch", "JsonSchemaMatch", "JsonValid", "RegexMatch", "ScorerInputError"]
