"""Cache-write and audio token counts: mapped from each convention, stored, returned, and priced at their
own rates where the entry lists them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contrail.analytics.cost import COST_METADATA_KEY, price_observations
from contrail.analytics.overrides import project_catalogue
from contrail.analytics.price_file import parse_price_document
from contrail.schema.observation import Usage
from tests.analytics.conftest import generation
from tests.analytics.test_overrides_api import START, observation
from tests.conftest import LiveContrail
from tests.ingest.conftest import make_request, map_one

VOICE: dict[str, Any] = {
    "provider": "self-hosted",
    "entries": [
        {
            "model": "voice-1",
            "prices": [
                {
                    "effective": "2020-01-01",
                    "input": "1",
                    "output": "2",
                    "cached_input": "0.1",
                    "cache_write": "1.25",
                    "audio_input": "10",
                    "audio_output": "20",
                }
            ],
        }
    ],
}


def _voice_call(**usage: int) -> Any:
    obs = generation("voice-1")
    obs.usage = Usage(**usage)
    price_observations([obs], project_catalogue(parse_price_document(VOICE, origin="t")))
    return obs


def test_each_part_gets_its_own_rate() -> None:
    obs = _voice_call(
        input_tokens=4_000_000,
        output_tokens=3_000_000,
        cached_input_tokens=1_000_000,
        cache_write_input_tokens=1_000_000,
        audio_input_tokens=1_000_000,
        audio_output_tokens=1_000_000,
    )
    # input: 1M plain x 1 + 1M cached x 0.1 + 1M written x 1.25 + 1M audio x 10; output: 2M x 2 + 1M x 20
    assert obs.cost.input == Decimal("12.35")
    assert obs.cost.output == Decimal(24)
    assert obs.metadata[COST_METADATA_KEY]["status"] == "priced"


def test_anthropic_style_usage_with_cache_writes_outside_input_is_converted() -> None:
    obs = _voice_call(input_tokens=1_000_000, output_tokens=0, cache_write_input_tokens=2_000_000)
    assert obs.cost.input == Decimal("3.5")
    assert obs.metadata[COST_METADATA_KEY]["input_excluded_cache"] is True


def test_impossible_or_negative_parts_are_invalid_not_zero() -> None:
    for usage in (
        {"input_tokens": 10, "output_tokens": 10, "audio_output_tokens": 11},
        {"input_tokens": 10, "output_tokens": 10, "audio_input_tokens": -1},
        {"input_tokens": 10, "output_tokens": 10, "cache_write_input_tokens": 10**12},
    ):
        obs = _voice_call(**usage)
        assert obs.cost.total is None, usage
        assert obs.metadata[COST_METADATA_KEY]["status"] == "invalid", usage


def test_conventions_map_cache_writes_and_audio() -> None:
    openinference = map_one(
        make_request(
            {
                "attributes": {
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "voice-1",
                    "llm.token_count.prompt": 100,
                    "llm.token_count.completion": 50,
                    "llm.token_count.prompt_details.cache_write": 30,
                    "llm.token_count.prompt_details.audio": 20,
                    "llm.token_count.completion_details.audio": 10,
                }
            }
        )
    )
    assert (
        openinference.usage.cache_write_input_tokens,
        openinference.usage.audio_input_tokens,
        openinference.usage.audio_output_tokens,
    ) == (30, 20, 10)
    genai = map_one(
        make_request(
            {
                "attributes": {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "claude-sonnet-4",
                    "gen_ai.usage.input_tokens": 10,
                    "gen_ai.usage.output_tokens": 5,
                    "gen_ai.usage.cache_creation.input_tokens": 7,
                }
            }
        )
    )
    assert genai.usage.cache_write_input_tokens == 7
    langfuse = map_one(
        make_request(
            {
                "attributes": {
                    "langfuse.observation.type": "generation",
                    "langfuse.observation.model.name": "gpt-4o-audio-preview",
                    "langfuse.observation.usage_details": (
                        '{"input": 40, "output": 30, "input_audio": 12, "output_audio": 9, '
                        '"cache_creation_input_tokens": 4}'
                    ),
                }
            }
        )
    )
    assert (
        langfuse.usage.audio_input_tokens,
        langfuse.usage.audio_output_tokens,
        langfuse.usage.cache_write_input_tokens,
    ) == (12, 9, 4)


def test_native_ingest_stores_returns_and_prices_the_new_counts(contrail: LiveContrail) -> None:
    usage = {
        "input_tokens": 4_000_000,
        "output_tokens": 3_000_000,
        "cached_input_tokens": 1_000_000,
        "cache_write_input_tokens": 1_000_000,
        "audio_input_tokens": 1_000_000,
        "audio_output_tokens": 1_000_000,
    }
    body = {
        "trace_id": "e" * 32,
        "span_id": "1" * 16,
        "name": "voice",
        "type": "generation",
        "start_us": START,
        "end_us": START + 1,
        "model_requested": "voice-1",
        "usage": usage,
    }
    with contrail.client() as client:
        assert client.put("/api/v1/prices", json=VOICE).status_code == 200
        response = client.post(
            "/api/v1/ingest", json={"batch": [{"id": "v", "type": "observation", "body": body}]}
        )
        assert not response.json()["errors"], response.text
        stored = observation(client, "e" * 32, "1" * 16)
        assert {k: stored["usage"][k] for k in usage} == usage
        assert Decimal(stored["cost_usd"]["total"]) == Decimal("36.35")
        negative = body | {"span_id": "2" * 16, "usage": {"audio_output_tokens": -5}}
        refused = client.post(
            "/api/v1/ingest", json={"batch": [{"id": "n", "type": "observation", "body": negative}]}
        )
        assert refused.json()["errors"][0]["status"] == 400
