"""Price files: strict validation, every problem reported, nothing half-applied."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from contrail.analytics.catalogue import default_catalogue, load_catalogue_file
from contrail.analytics.price_file import PriceFileError, load_price_file, parse_price_document
from contrail.cli.prices import prices_group

GOOD = {
    "schema_version": 1,
    "provider": "self-hosted",
    "source": "https://wiki.example.com/gpu-costs",
    "entries": [
        {
            "model": "My-Llama-70B",
            "aliases": ["llama-prod"],
            "prices": [
                {"effective": "2025-01-01", "input": "0.10", "output": "0.20"},
                {
                    "effective": "2025-07-01T00:00:00Z",
                    "input": 0.05,
                    "output": "0.10",
                    "per_request": "0.0001",
                },
            ],
        }
    ],
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_good_file_loads_exactly(tmp_path: Path) -> None:
    entries = load_price_file(_write(tmp_path, GOOD))
    assert [(e.provider, e.model, e.aliases) for e in entries] == [
        ("self-hosted", "my-llama-70b", ("llama-prod",))
    ]
    first, second = entries[0].periods
    assert first.rates.input == Decimal("0.10")
    assert second.rates.input == Decimal("0.05")  # a JSON float read as an exact decimal
    assert second.per_request == Decimal("0.0001")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("{not json", "not valid JSON"),
        ([], "(top level): must be an object"),
        ({"entries": []}, "entries: must be a non-empty list"),
        ({"schema_version": 2, "provider": "x", "entries": [{}]}, "schema_version: must be 1"),
        (
            {"entries": [{"model": "m", "prices": [{"effective": "2025-01-01", "input": 1, "output": 1}]}]},
            "entries[0].provider: missing",
        ),
        (
            {"provider": "x", "entries": [{"model": "m", "prices": []}]},
            "entries[0].prices: must be a non-empty list",
        ),
        (
            {
                "provider": "x",
                "entries": [
                    {"model": "m", "prices": [{"effective": "2025-01-01", "input": "-1", "output": 1}]}
                ],
            },
            "entries[0].prices[0].input: must be between 0 and",
        ),
        (
            {
                "provider": "x",
                "entries": [
                    {"model": "m", "prices": [{"effective": "2025-01-01", "input": "abc", "output": 1}]}
                ],
            },
            "not a number: 'abc'",
        ),
        (
            {
                "provider": "x",
                "entries": [
                    {"model": "m", "prices": [{"effective": "2025-01-01", "input": True, "output": 1}]}
                ],
            },
            "must be a decimal number",
        ),
        (
            {
                "provider": "x",
                "entries": [
                    {"model": "m", "prices": [{"effective": "2025-01-01", "input": "NaN", "output": 1}]}
                ],
            },
            "must be between 0 and",
        ),
        (
            {
                "provider": "x",
                "entries": [{"model": "m", "prices": [{"effective": "2025-02-30", "input": 1, "output": 1}]}],
            },
            "not a date: '2025-02-30'",
        ),
        (
            {
                "provider": "x",
                "entries": [{"model": "m", "prices": [{"effective": "2025-01-01", "input": 1, "ouput": 1}]}],
            },
            "entries[0].prices[0].ouput: unknown field",
        ),
        (
            {
                "provider": "x",
                "entries": [{"model": "m", "prices": [{"effective": "2025-01-01", "input": 1}]}],
            },
            "entries[0].prices[0].output: missing",
        ),
        (
            {
                "provider": "x",
                "entries": [{"model": "m", "unit": "minute", "prices": [{"effective": "2025-01-01"}]}],
            },
            "per_unit: missing (USD per minute)",
        ),
        (
            {
                "provider": "x",
                "entries": [
                    {
                        "model": "m",
                        "mode": "video",
                        "prices": [{"effective": "2025-01-01", "input": 1, "output": 1}],
                    }
                ],
            },
            "entries[0].mode: must be one of",
        ),
        (
            {
                "provider": "Bad Name!",
                "entries": [{"model": "m", "prices": [{"effective": "2025-01-01", "input": 1, "output": 1}]}],
            },
            "provider: must be a short lower-case name",
        ),
        (
            {
                "provider": "x",
                "entries": [
                    {
                        "model": "m",
                        "prices": [
                            {
                                "effective": "2025-01-01",
                                "input": 1,
                                "output": 1,
                                "tiers": [{"above": 0, "input": 1, "output": 1}],
                            }
                        ],
                    }
                ],
            },
            "tiers[0].above: must be a positive whole number",
        ),
        (
            {
                "provider": "x",
                "entries": [
                    {
                        "model": "m",
                        "prices": [
                            {"effective": "2025-01-01", "input": 1, "output": 1},
                            {"effective": "2025-01-01", "input": 2, "output": 2},
                        ],
                    }
                ],
            },
            "two periods have the same effective date",
        ),
        (
            {
                "provider": "x",
                "entries": [
                    {"model": "m", "prices": [{"effective": "2025-01-01", "input": 1, "output": 1}]},
                    {"model": "M ", "prices": [{"effective": "2025-01-01", "input": 1, "output": 1}]},
                ],
            },
            "x/m is defined twice",
        ),
    ],
)
def test_bad_files_are_rejected_with_a_located_message(tmp_path: Path, data: object, expected: str) -> None:
    with pytest.raises(PriceFileError) as caught:
        load_price_file(_write(tmp_path, data))
    assert expected in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "provider": "x",
        "entries": [
            {"model": "a", "prices": [{"effective": "nope", "input": 1, "output": 1}]},
            {"model": "b", "prices": [{"effective": "2025-01-01", "input": -1, "output": 1}]},
        ],
    }
    with pytest.raises(PriceFileError) as caught:
        parse_price_document(data, origin="t")
    assert len(caught.value.problems) == 2


def test_a_bad_file_is_not_half_applied(tmp_path: Path) -> None:
    data = {
        "provider": "x",
        "entries": [
            {"model": "good-model", "prices": [{"effective": "2025-01-01", "input": 1, "output": 1}]},
            {"model": "bad-model", "prices": [{"effective": "2025-01-01", "input": -1, "output": 1}]},
        ],
    }
    with pytest.raises(PriceFileError):
        load_catalogue_file(_write(tmp_path, data))
    assert default_catalogue().match("good-model") is None


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match="cannot read the file"):
        load_price_file(tmp_path / "absent.json")


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_check_accepts_a_good_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(prices_group, ["check", str(_write(tmp_path, GOOD))])
    assert result.exit_code == 0, result.output
    assert "OK: 1 entries, 2 price periods, providers: self-hosted" in result.output


def test_cli_check_rejects_a_malformed_file(tmp_path: Path) -> None:
    bad = {
        "provider": "x",
        "entries": [{"model": "m", "prices": [{"effective": "2025-01-01", "input": "1,5", "ouput": 2}]}],
    }
    result = CliRunner().invoke(prices_group, ["check", str(_write(tmp_path, bad))])
    assert result.exit_code == 1
    assert "is not a valid price file (3 problem(s))" in result.output
    assert "entries[0].prices[0].ouput: unknown field" in result.output
    assert "not a number: '1,5'" in result.output
    assert "Traceback" not in result.output


def test_cli_check_rejects_invalid_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(prices_group, ["check", str(_write(tmp_path, '{"entries": [}'))])
    assert result.exit_code == 1
    assert "not valid JSON" in result.output


def test_cli_list_filters() -> None:
    result = CliRunner().invoke(prices_group, ["list", "--provider", "anthropic", "--search", "haiku"])
    assert result.exit_code == 0, result.output
    assert "claude-haiku-4-5" in result.output and "claude-3-haiku" in result.output
    assert "sonnet" not in result.output and "gpt-4o" not in result.output


def test_cli_show_explains_the_match() -> None:
    result = CliRunner().invoke(prices_group, ["show", "azure/gpt-4o-2024-08-06", "--at", "2025-01-01"])
    assert result.exit_code == 0, result.output
    assert "matched openai/gpt-4o-2024-08-06" in result.output
    assert "prefix azure/ removed" in result.output
    assert "input: 2.50" in result.output and "fine-tuned models:" in result.output
    assert "https://openai.com/api/pricing/" in result.output


def test_cli_show_price_history_date() -> None:
    result = CliRunner().invoke(prices_group, ["show", "o3", "--at", "2025-05-01"])
    assert "Prices since 2025-04-16" in result.output and "input: 10.00" in result.output


def test_cli_show_unknown_model_fails_with_advice() -> None:
    result = CliRunner().invoke(prices_group, ["show", "my-model"])
    assert result.exit_code == 1
    assert "No price for 'my-model'" in result.output and "override file" in result.output


def test_cli_show_uses_an_override_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(prices_group, ["show", "llama-prod", "--file", str(_write(tmp_path, GOOD))])
    assert result.exit_code == 0, result.output
    assert "matched self-hosted/my-llama-70b (file:prices.json)" in result.output
