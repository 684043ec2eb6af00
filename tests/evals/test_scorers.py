"""Deterministic scorers, the function wrapper and the spec builder."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

import pytest

from contrail.evals.base import EvalCase, Scorer, ScoreResult
from contrail.evals.scorers import (
    as_scorer,
    as_text,
    build_scorer,
    levenshtein_distance,
    levenshtein_similarity,
    token_f1,
)


def run(scorer: Scorer, output: Any, expected: Any = None, **fields: Any) -> ScoreResult:
    return asyncio.run(scorer.score(EvalCase(input="q", output=output, expected=expected, **fields)))


def _table_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


# --- text extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("plain", "plain"),
        ({"role": "assistant", "content": "hi"}, "hi"),
        ({"choices": [{"message": {"role": "assistant", "content": "from choices"}}]}, "from choices"),
        ({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "ab"),
        ({"answer": "Paris", "confidence": 0.9}, "Paris"),
        ({"b": 1, "a": [1, 2]}, '{"a":[1,2],"b":1}'),
        (42, "42"),
        (True, "true"),
        ([{"type": "text", "text": "x"}, {"type": "text", "text": "y"}], "xy"),
        (["x", "y"], '["x","y"]'),
    ],
)
def test_text_extraction(value: Any, text: str | None) -> None:
    assert as_text(value) == text


# --- deterministic scorers -------------------------------------------------------------------------


def test_exact_strips_and_honours_case() -> None:
    assert run(build_scorer({"type": "exact"}), " Paris\n", "Paris").passed is True
    assert run(build_scorer({"type": "exact"}), "paris", "Paris").value == 0.0
    assert run(build_scorer({"type": "exact", "case_sensitive": False}), "paris", "Paris").value == 1.0


def test_exact_reads_provider_messages() -> None:
    message = {"role": "assistant", "content": "Paris"}
    assert run(build_scorer({"type": "exact"}), message, "Paris").passed is True


def test_missing_output_or_expected_is_an_error_not_a_fail() -> None:
    no_output = run(build_scorer({"type": "exact"}), None, "Paris")
    no_expected = run(build_scorer({"type": "levenshtein"}), "Paris", None)
    assert no_output.error == "no output to score" and no_output.value is None
    assert no_expected.error == "no expected output to compare with" and no_expected.value is None


def test_contains_value_list_and_case() -> None:
    scorer = build_scorer({"type": "contains", "value": "Paris", "case_sensitive": False})
    assert run(scorer, "the capital is PARIS.").passed is True
    both = build_scorer({"type": "contains", "value": ["Paris", "France"]})
    result = run(both, "Paris, Texas")
    assert result.passed is False and result.reason == "missing: 'France'"
    assert run(build_scorer({"type": "contains"}), "It is Paris.", "Paris").passed is True
    assert run(build_scorer({"type": "contains"}), "Paris, France", ["France", "Paris"]).passed is True
    assert run(build_scorer({"type": "contains"}), "Paris, Texas", ["France", "Paris"]).passed is False


def test_regex_search_and_full_match() -> None:
    assert run(build_scorer({"type": "regex", "pattern": r"\d{4}"}), "year 1999").passed is True
    full = build_scorer({"type": "regex", "pattern": r"\d{4}", "full_match": True})
    assert run(full, "year 1999").passed is False
    assert run(build_scorer({"type": "regex", "pattern": "yes", "ignore_case": True}), "YES").value == 1.0


def test_json_valid_accepts_text_and_dicts() -> None:
    scorer = build_scorer({"type": "json_valid"})
    assert run(scorer, '{"a": 1}').passed is True
    assert run(scorer, {"a": 1}).passed is True
    bad = run(scorer, "{'a': 1}")
    assert (
        bad.passed is False and bad.reason is not None and bad.reason.startswith("output is not valid JSON")
    )


def test_json_schema_reports_the_failing_path() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city"],
    }
    scorer = build_scorer({"type": "json_schema", "schema": schema, "name": "shape"})
    assert run(scorer, '{"city": "Paris", "population": 2100000}').passed is True
    wrong = run(scorer, {"city": "Paris", "population": "many"})
    assert wrong.name == "shape" and wrong.passed is False
    assert wrong.reason == "population: 'many' is not of type 'integer'"
    assert run(scorer, "not json").passed is False


def test_levenshtein_matches_the_textbook_table() -> None:
    rng = random.Random(7)
    for _ in range(300):
        a = "".join(rng.choice("abcé ") for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice("abcé ") for _ in range(rng.randint(0, 90)))
        assert levenshtein_distance(a, b) == _table_distance(a, b), (a, b)
    assert levenshtein_distance("kitten", "sitting") == 3
    assert levenshtein_similarity("", "") == 1.0
    assert levenshtein_similarity("abc", "xyz") == 0.0


def test_levenshtein_is_fast_on_long_texts() -> None:
    # 10,000 x 10,000 characters would be 10^8 table cells; the bit-parallel version needs 10^4 steps.
    a = "lorem ipsum dolor sit amet " * 370
    b = a.replace("o", "0")
    assert levenshtein_distance(a, b) == a.count("o")


def test_levenshtein_scorer_threshold() -> None:
    scorer = build_scorer({"type": "levenshtein", "threshold": 0.8})
    result = run(scorer, "kitten", "sitting")
    assert result.value == pytest.approx(1 - 3 / 7)
    assert result.passed is False
    assert run(scorer, "Paris", "Paris").passed is True


def test_token_overlap_f1() -> None:
    assert token_f1("the cat sat", "the cat sat") == 1.0
    assert token_f1("the cat", "the cat sat on the mat") == pytest.approx(2 * 1 * (2 / 6) / (1 + 2 / 6))
    assert token_f1("", "") == 1.0 and token_f1("dog", "") == 0.0
    result = run(build_scorer({"type": "token_overlap", "threshold": 0.5}), "The Cat!", "the cat")
    assert result.value == 1.0 and result.passed is True


def test_numeric_tolerance_absolute_and_relative() -> None:
    absolute = build_scorer({"type": "numeric", "tolerance": 0.01})
    assert run(absolute, "The answer is 3.141.", "3.14").passed is True
    assert run(absolute, "3.2", 3.14).passed is False
    relative = build_scorer({"type": "numeric", "relative_tolerance": 0.05})
    assert run(relative, "1,020", "1000").passed is True


def test_numeric_ambiguous_or_missing_numbers_are_errors() -> None:
    scorer = build_scorer({"type": "numeric"})
    assert (
        run(scorer, "between 3 and 5", "4").error
        == "the output must state one number, found 2 numbers: 'between 3 and 5'"
    )
    assert run(scorer, "no idea", "4").error is not None
    assert run(scorer, "nan", "4").error == "the output is not a finite number: 'nan'"


def test_latency_and_cost_thresholds() -> None:
    latency = build_scorer({"type": "latency", "max_seconds": 2})
    assert run(latency, "x", latency_seconds=1.5).passed is True
    slow = run(latency, "x", latency_seconds=2.5)
    assert slow.passed is False and slow.reason == "2.500 s exceeds 2 s"
    assert run(latency, "x").error == "no latency recorded for this case"
    cost = build_scorer({"type": "cost", "max_usd": "0.01"})
    assert run(cost, "x", cost_usd=Decimal("0.0100")).passed is True
    assert run(cost, "x", cost_usd=Decimal("0.0101")).passed is False
    assert run(cost, "x").error == "no cost recorded for this case"


# --- as_scorer -------------------------------------------------------------------------------------


def test_as_scorer_takes_the_case_or_its_fields() -> None:
    def whole(case: EvalCase) -> bool:
        return case.output == case.expected

    def fields(output: str, expected: str) -> float:
        return 0.5 if output.lower() == expected.lower() else 0.0

    assert run(as_scorer(whole), "a", "a").passed is True
    result = run(as_scorer(fields, name="loose"), "A", "a")
    assert result.name == "loose" and result.value == 0.5


def test_as_scorer_async_and_kwargs() -> None:
    async def judged(**fields: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"score": 0.25, "label": "meh", "reason": str(fields["metadata"]["k"])}

    result = run(as_scorer(judged), "x", metadata={"k": "v"})
    assert (result.name, result.value, result.label, result.reason) == ("judged", 0.25, "meh", "v")


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (True, {"value": 1.0, "passed": True}),
        (0, {"value": 0.0, "passed": None}),
        (Decimal("0.75"), {"value": 0.75}),
        ("good", {"label": "good", "value": None}),
        ({"value": False}, {"value": 0.0, "passed": False}),
        (ScoreResult(name="other", value=0.3), {"name": "fn", "value": 0.3}),
    ],
)
def test_as_scorer_converts_return_values(returned: Any, expected: dict[str, Any]) -> None:
    result = run(as_scorer(lambda case: returned, name="fn"), "x")
    assert result.error is None
    for key, value in expected.items():
        assert getattr(result, key) == value


@pytest.mark.parametrize(
    ("returned", "error"),
    [
        (float("nan"), "the scorer returned a non-finite number (nan)"),
        (float("inf"), "the scorer returned a non-finite number (inf)"),
        ({"score": float("-inf")}, "the scorer returned a non-finite number (-inf)"),
        (None, "the scorer returned None instead of a verdict"),
        ([1, 2], "the scorer returned a list; return a bool, number, str or dict"),
        ({"scroe": 1}, "the scorer returned unknown keys ['scroe']; use metadata for extra data"),
        ({"value": "high"}, "the scorer's value must be a number, not str"),
    ],
)
def test_unusable_return_values_become_errors(returned: Any, error: str) -> None:
    result = run(as_scorer(lambda case: returned, name="fn"), "x")
    assert result.error == error and result.value is None


def test_raising_scorer_becomes_an_error_result() -> None:
    def broken(output: str) -> float:
        raise KeyError("missing")

    async def broken_async(case: EvalCase) -> float:
        raise RuntimeError("provider down")

    assert run(as_scorer(broken), "x").error == "KeyError: 'missing'"
    assert run(as_scorer(broken_async), "x").error == "RuntimeError: provider down"


def test_returning_a_nan_score_result_becomes_an_error() -> None:
    result = run(as_scorer(lambda case: ScoreResult(name="x", value=float("nan")), name="nan"), "x")
    assert result.error is not None and "not finite" in result.error


def test_as_scorer_rejects_unusable_functions() -> None:
    with pytest.raises(ValueError, match="takes no parameters"):
        as_scorer(lambda: 1)
    with pytest.raises(ValueError, match=r"parameters \['judge'\] that are not case fields"):
        as_scorer(lambda output, judge: 1)
    with pytest.raises(ValueError, match="needs a function"):
        as_scorer(3)  # type: ignore[arg-type]


# --- build_scorer ----------------------------------------------------------------------------------


def test_python_spec_loads_functions_and_scorer_objects() -> None:
    fn = build_scorer({"type": "python", "function": "tests.evals.scorer_fixtures:starts_with_expected"})
    assert fn.name == "starts_with_expected" and run(fn, "Paris, France", "Paris").passed is True
    obj = build_scorer({"type": "python", "function": "tests.evals.scorer_fixtures:SHOUTY"})
    assert obj.name == "shouty" and run(obj, "LOUD").value == 1.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "exactly"}, "unknown scorer type 'exactly'; known types: contains, cost, "),
        ({"value": "x"}, "a scorer spec needs a 'type'"),
        ("exact", "a scorer spec must be a mapping"),
        ({"type": "regex"}, "scorer type 'regex' needs the field 'pattern'"),
        ({"type": "regex", "pattern": "(unclosed"}, "invalid regular expression in 'pattern'"),
        ({"type": "json_schema", "schema": {"type": "strnig"}}, "invalid JSON Schema in 'schema'"),
        ({"type": "json_schema", "schema": "{}"}, "field 'schema' of scorer type 'json_schema' must be dict"),
        (
            {"type": "exact", "case_sensitiv": False},
            "unknown field(s) 'case_sensitiv' for scorer type 'exact'",
        ),
        (
            {"type": "levenshtein", "threshold": 1.5},
            "field 'threshold' of scorer type 'levenshtein' must be between",
        ),
        (
            {"type": "levenshtein", "threshold": "high"},
            "field 'threshold' of scorer type 'levenshtein' must be int",
        ),
        (
            {"type": "exact", "case_sensitive": "no"},
            "field 'case_sensitive' of scorer type 'exact' must be bool",
        ),
        (
            {"type": "numeric", "tolerance": True},
            "field 'tolerance' of scorer type 'numeric' must be int or float",
        ),
        ({"type": "latency"}, "scorer type 'latency' needs the field 'max_seconds'"),
        ({"type": "cost", "max_usd": "cheap"}, "field 'max_usd' of scorer type 'cost' is not a number"),
        ({"type": "cost", "max_usd": "-1"}, "must be a non-negative amount"),
        ({"type": "contains", "value": ""}, "field 'value' of scorer type 'contains' must be a non-empty"),
        (
            {"type": "python", "function": "no_colon"},
            "field 'function' must look like 'package.module:function'",
        ),
        ({"type": "python", "function": "tests.evals.nope:f"}, "cannot import module 'tests.evals.nope'"),
        ({"type": "python", "function": "tests.evals.scorer_fixtures:gone"}, "has no attribute 'gone'"),
        ({"type": "python", "function": "tests.evals.scorer_fixtures:NOT_CALLABLE"}, "needs a function"),
    ],
)
def test_bad_specs_name_the_field(spec: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        build_scorer(spec)
    assert message in str(raised.value)


def test_name_overrides_every_type() -> None:
    for spec in ({"type": "exact"}, {"type": "json_valid"}, {"type": "latency", "max_seconds": 1}):
        assert build_scorer({**spec, "name": "custom"}).name == "custom"
