"""Model-name matching: what must match, what must not, and how ties are broken."""

from __future__ import annotations

import pytest

from contrail.analytics.catalogue import PriceCatalogue, builtin_entries, default_catalogue
from contrail.analytics.prices import Unit


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4o-audio-preview",  # a different product, priced differently: must not fall back to gpt-4o
        "gpt-4o-realtime-preview-2024-12-17",
        "gpt-4.5-preview",  # must not become gpt-4
        "claude-opus-4-7",  # a newer minor version must not take claude-opus-4's price
        "meta-llama/llama-3.3-70b-instruct:free",
        "x" * 300,
        "",
        "   ",
        "totally-unknown",
        "anthropic.",
    ],
)
def test_unknown_or_different_models_do_not_match(name: str) -> None:
    assert default_catalogue().match(name) is None


def test_provider_hint_chooses_among_hosts() -> None:
    name = "meta-llama/llama-4-scout-17b-16e-instruct"
    catalogue = default_catalogue()
    unhinted = catalogue.match(name)
    assert unhinted is not None and unhinted.ambiguous
    hinted = catalogue.match(name, provider="together_ai")
    assert hinted is not None and hinted.entry.provider == "together"
    assert catalogue.match(name, provider="groq").entry.provider == "groq"  # type: ignore[union-attr]


def test_prefix_host_beats_observation_provider() -> None:
    found = default_catalogue().match(
        "together_ai/meta-llama/llama-4-scout-17b-16e-instruct", provider="groq"
    )
    assert found is not None and found.entry.provider == "together"


def test_otel_provider_names_are_understood() -> None:
    found = default_catalogue().match("gpt-4o", provider="azure.ai.openai")
    assert found is not None and found.host == "azure" and found.entry.key == "openai/gpt-4o"


def test_match_explains_itself() -> None:
    found = default_catalogue().match("us.anthropic.claude-3-5-sonnet-20240620-v1:0")
    assert found is not None
    text = found.explain()
    assert "anthropic/claude-3-5-sonnet" in text
    assert "Bedrock id" in text
    assert "-20240620-v1" in text


def test_explain_lists_candidates_tried() -> None:
    found, trace = default_catalogue().explain("bedrock/us.meta.llama3-3-70b-instruct-v1:0")
    assert found is not None and found.entry.key == "bedrock/meta.llama3-3-70b-instruct"
    assert any("no catalogue name" in line for line in trace)


def test_matches_are_cached() -> None:
    catalogue = PriceCatalogue(builtin_entries())
    first = catalogue.match("gpt-4o-2024-08-06")
    assert catalogue.match("gpt-4o-2024-08-06") is first


def test_builtin_catalogue_covers_every_provider_with_sources() -> None:
    entries = default_catalogue().entries
    providers = {entry.provider for entry in entries}
    assert providers >= {
        "openai",
        "anthropic",
        "google",
        "mistral",
        "groq",
        "together",
        "cohere",
        "deepseek",
        "xai",
        "bedrock",
    }
    assert len(entries) >= 120
    for entry in entries:
        assert entry.source and entry.source.startswith("https://"), entry.key
        assert entry.periods, entry.key
        if entry.unit is Unit.TOKEN:
            assert entry.current().rates.input is not None, entry.key


def test_anthropic_entries_have_cache_prices() -> None:
    for entry in default_catalogue().search(provider="anthropic"):
        if entry.model != "claude-3-sonnet":
            rates = entry.current().rates
            assert rates.cached_input is not None and rates.cache_write is not None, entry.key


def test_search_filters_by_provider_and_text() -> None:
    found = default_catalogue().search(provider="openai", text="4o-mini")
    assert [entry.model for entry in found] == ["gpt-4o-mini"]
    assert default_catalogue().search(text="GPT-35") and all(
        "gpt-35" in " ".join(e.aliases) for e in default_catalogue().search(text="gpt-35")
    )
