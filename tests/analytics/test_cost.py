"""price_observations: effective dates, tiers, cache and reasoning rates, client costs, bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contrail.analytics.catalogue import default_catalogue
from contrail.analytics.cost import COST_METADATA_KEY, MAX_TOKENS, price_observations
from contrail.analytics.price_file import parse_price_document
from contrail.schema.observation import Observation, ObservationType
from tests.analytics.conftest import at, generation


def _marker(obs: Observation) -> dict[str, object]:
    marker = obs.metadata[COST_METADATA_KEY]
    assert isinstance(marker, dict)
    return marker


@pytest.mark.parametrize(
    ("model", "day", "total", "effective"),
    [
        ("gpt-4o", "2024-06-01", "0.02", "2024-05-13"),  # 5/15 before the alias moved
        ("gpt-4o", "2024-10-02", "0.0125", "2024-10-02"),
        ("o3", "2025-05-01", "0.05", "2025-04-16"),  # 10/40 before the June 2025 cut
        ("o3", "2025-06-10", "0.01", "2025-06-10"),
        ("deepseek-chat", "2025-03-01", "0.00137", "2025-02-08"),
        ("deepseek-chat", "2025-09-10", "0.00224", "2025-09-05"),
        ("deepseek-chat", "2025-10-01", "0.0007", "2025-09-29"),
    ],
)
def test_price_valid_at_start_time(model: str, day: str, total: str, effective: str) -> None:
    obs = generation(model, 1000, 1000, start_us=at(day))
    price_observations([obs])
    assert obs.cost.total == Decimal(total)
    assert _marker(obs)["effective"] == effective


def test_before_first_known_price_uses_earliest_and_says_so() -> None:
    obs = generation("gpt-5", 1000, 1000, start_us=at("2020-01-01"))
    price_observations([obs])
    assert obs.cost.total == Decimal("0.01125")
    assert _marker(obs)["before_first_price"] is True


def test_long_context_tier_prices_the_whole_request() -> None:
    obs = generation("gemini-2.5-pro", 250_000, 1000)
    price_observations([obs])
    assert obs.cost.total == Decimal("0.64")  # 250k x 2.50 + 1k x 15.00 per 1M
    assert _marker(obs)["tier_above"] == 200_000
    short = generation("gemini-2.5-pro", 200_000, 1000)
    price_observations([short])
    assert short.cost.total == Decimal("0.26")  # at the threshold: base rates 1.25 / 10
    sonnet = generation("claude-sonnet-4-5-20250929", 300_000, 1000, cached=100_000)
    price_observations([sonnet])
    # 200k x 6.00 + 100k cached x 0.60 + 1k x 22.50, per 1M
    assert sonnet.cost.total == Decimal("1.2825")


def test_reasoning_rate_when_the_period_has_one() -> None:
    obs = generation("gemini-2.5-flash-preview-04-17", 1000, 1000, reasoning=800, start_us=at("2025-05-01"))
    price_observations([obs])
    assert obs.cost.output == Decimal("0.00292")  # 200 x 0.60 + 800 x 3.50 per 1M
    assert obs.cost.total == Decimal("0.00307")


def test_anthropic_usage_convention_is_recognised() -> None:
    # Anthropic's raw input_tokens exclude cache reads: 21 fresh + 188,086 read from the cache.
    obs = generation("claude-sonnet-4-5", 21, 393, cached=188_086)
    price_observations([obs])
    assert _marker(obs)["input_excluded_cache"] is True
    assert obs.cost.input == Decimal("0.0564888")  # 21 x 3.00 + 188,086 x 0.30 per 1M


def test_cache_writes_use_their_rate_when_usage_reports_them() -> None:
    from contrail.analytics.charge import TokenCounts, charge_tokens

    match = default_catalogue().match("claude-3-5-sonnet")
    assert match is not None
    counts = TokenCounts(input=12_000, output=0, cached_input=1_000, cache_write=10_000)
    charge = charge_tokens(match.entry.current(), counts)
    assert charge.input == Decimal("0.0408")  # 1k x 3.00 + 1k x 0.30 + 10k x 3.75 per 1M


def test_fine_tune_without_listed_price_uses_base_rates_and_says_so() -> None:
    obs = generation("ft:o4-mini-2025-04-16:org::x", 1000, 1000)
    price_observations([obs])
    assert obs.cost.total == Decimal("0.0055")
    assert _marker(obs)["fine_tune"] == "base rates (no fine-tune price listed)"


def test_unknown_model_is_unpriced_never_zero() -> None:
    obs = generation("my-private-model-7b", 1000, 1000)
    price_observations([obs])
    assert obs.cost.total is None and obs.cost.input is None
    assert _marker(obs) == {
        "status": "unpriced",
        "reason": "unknown_model",
        "model_name": "my-private-model-7b",
    }


def test_missing_model_is_marked() -> None:
    obs = generation(None, 1000, 1000)
    price_observations([obs])
    assert obs.cost.total is None
    assert _marker(obs)["reason"] == "no_model"


@pytest.mark.parametrize(
    ("usage", "reason"),
    [
        ({"input_tokens": -5, "output_tokens": 10}, "input_tokens is negative"),
        ({"input_tokens": 10, "output_tokens": -1}, "output_tokens is negative"),
        ({"input_tokens": 10, "output_tokens": 10, "cached": -3}, "cached_input_tokens is negative"),
        ({"input_tokens": MAX_TOKENS + 1, "output_tokens": 10}, f"input_tokens is above {MAX_TOKENS}"),
        ({"input_tokens": 10, "output_tokens": 10**15}, f"output_tokens is above {MAX_TOKENS}"),
        ({"input_tokens": 10, "output_tokens": 10, "cached": MAX_TOKENS}, f"token count above {MAX_TOKENS}"),
        ({"input_tokens": 10.5, "output_tokens": 1}, "input_tokens is not a whole number"),
        ({"input_tokens": True, "output_tokens": 1}, "input_tokens is not a number"),
        ({"input_tokens": "12", "output_tokens": 1}, "input_tokens is not a whole number"),
    ],
)
def test_bad_token_counts_are_invalid_not_priced(usage: dict[str, object], reason: str) -> None:
    obs = generation("gpt-4o", None, None)
    obs.usage.input_tokens = usage["input_tokens"]  # type: ignore[assignment]
    obs.usage.output_tokens = usage["output_tokens"]  # type: ignore[assignment]
    obs.usage.cached_input_tokens = usage.get("cached")  # type: ignore[assignment]
    price_observations([obs])
    assert obs.cost.total is None
    assert _marker(obs)["status"] == "invalid"
    assert _marker(obs)["reason"] == reason


def test_integral_float_counts_are_accepted() -> None:
    obs = generation("gpt-4o", 1000.0, 500.0)  # type: ignore[arg-type]
    price_observations([obs])
    assert obs.cost.total == Decimal("0.0075")


def test_partial_usage_is_priced_and_flagged() -> None:
    obs = generation("gpt-4o", None, 1000)
    price_observations([obs])
    assert obs.cost.total == Decimal("0.01")
    assert _marker(obs)["partial_usage"] == ["input_tokens"]


@pytest.mark.parametrize(("client", "mismatch"), [("0.0075", False), ("0.00751", False), ("0.02", True)])
def test_client_cost_is_kept_and_compared(client: str, mismatch: bool) -> None:
    obs = generation("gpt-4o", 1000, 500, client_total=Decimal(client))
    price_observations([obs])
    assert obs.cost.total == Decimal(client)
    marker = _marker(obs)
    assert marker["reported_by"] == "client"
    assert marker["client_total"] == client
    assert Decimal(str(marker["computed_total"])) == Decimal("0.0075")
    assert marker["mismatch"] is mismatch


def test_client_cost_for_unknown_model_is_kept() -> None:
    obs = generation("my-model", 10, 10, client_total=Decimal("0.5"))
    price_observations([obs])
    assert obs.cost.total == Decimal("0.5")
    assert _marker(obs)["status"] == "unpriced"
    assert "mismatch" not in _marker(obs)


def test_client_cost_nan_is_a_mismatch_not_a_crash() -> None:
    obs = generation("gpt-4o", 1000, 500, client_total=Decimal("NaN"))
    price_observations([obs])
    assert _marker(obs)["mismatch"] is True


def test_missing_usage_is_estimated_from_text() -> None:
    messages = [{"role": "system", "content": "a" * 400}, {"role": "user", "content": "b" * 40}]
    obs = generation("gpt-4o", input=messages, output="c" * 80)
    price_observations([obs])
    marker = _marker(obs)
    assert marker["status"] == "estimated"
    # 441 bytes of text (two strings joined by a newline) / 4 → 111, + 4 per message; output 80 / 4.
    assert marker["usage_estimate"] == {
        "method": "heuristic:utf8_bytes/4",
        "input_tokens": 119,
        "output_tokens": 20,
    }
    assert (obs.usage.input_tokens, obs.usage.output_tokens, obs.usage.total_tokens) == (119, 20, 139)
    assert obs.cost.total == Decimal("0.0004975")  # 119 x 2.50 + 20 x 10.00 per 1M


def test_estimate_counts_more_tokens_for_multibyte_scripts() -> None:
    ascii_obs = generation("gpt-4o", input="a" * 300)
    cjk_obs = generation("gpt-4o", input="漢" * 300)
    price_observations([ascii_obs, cjk_obs])
    assert ascii_obs.usage.input_tokens == 75
    assert cjk_obs.usage.input_tokens == 225


def test_no_usage_and_no_text_is_unpriced() -> None:
    obs = generation("gpt-4o")
    price_observations([obs])
    assert obs.cost.total is None
    assert _marker(obs)["reason"] == "no_usage"


def test_other_observation_types_are_untouched() -> None:
    obs = generation("gpt-4o", 1000, 1000, kind=ObservationType.SPAN)
    price_observations([obs])
    assert obs.cost.total is None
    assert COST_METADATA_KEY not in obs.metadata


def test_never_raises_on_broken_observations(caplog: pytest.LogCaptureFixture) -> None:
    broken = generation("gpt-4o", 1000, 1000)
    broken.usage = None  # type: ignore[assignment]
    fine = generation("gpt-4o", 1000, 500)
    price_observations([broken, fine])
    assert _marker(broken) == {"status": "error"}
    assert fine.cost.total == Decimal("0.0075")
    assert "could not price observation" in caplog.text


@pytest.mark.parametrize(
    ("model", "metadata", "input_text", "total"),
    [
        ("whisper-1", {"usage_units": {"seconds": 90}}, None, "0.009"),
        ("groq/whisper-large-v3", {"usage_units": {"seconds": 1800}}, None, "0.0555"),
        ("tts-1", {}, "x" * 1000, "0.015"),
        ("dall-e-3", {"usage_units": {"images": 2}}, None, "0.08"),
        ("rerank-v3.5", {}, None, "0.002"),
    ],
)
def test_unit_priced_models(
    model: str, metadata: dict[str, object], input_text: str | None, total: str
) -> None:
    obs = generation(model, metadata=dict(metadata), input=input_text)
    price_observations([obs])
    assert obs.cost.total == Decimal(total)


def test_unit_priced_model_without_quantity_is_unpriced() -> None:
    obs = generation("whisper-1")
    price_observations([obs])
    assert obs.cost.total is None
    assert _marker(obs)["reason"] == "no_unit_quantity"


def test_overrides_win_and_price_self_hosted_models() -> None:
    entries = parse_price_document(
        {
            "provider": "self-hosted",
            "entries": [
                {
                    "model": "my-llama-70b",
                    "prices": [{"effective": "2024-01-01", "input": "0.1", "output": "0.2"}],
                },
                {
                    "model": "gpt-4o",
                    "provider": "openai",
                    "prices": [{"effective": "2024-01-01", "input": 1, "output": 2}],
                },
            ],
        },
        origin="test",
    )
    catalogue = default_catalogue().with_overrides(entries, layer="project:demo")
    mine = generation("my-llama-70b", 1_000_000, 1_000_000)
    dated = generation("gpt-4o-2024-08-06", 1_000_000, 0)
    other = generation("gpt-4o-mini", 1_000_000, 0)
    price_observations([mine, dated, other], catalogue)
    assert mine.cost.total == Decimal("0.3")
    assert _marker(mine)["catalogue"] == "project:demo"
    assert dated.cost.total == Decimal("1")  # the override's gpt-4o covers its snapshots too
    assert other.cost.total == Decimal("0.15")  # everything else still priced by the built-in list
    assert default_catalogue().match("my-llama-70b") is None  # the shared catalogue is unchanged
