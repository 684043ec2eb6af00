"""Real model names as traces carry them → catalogue entry, per-1M prices and exact cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contrail.analytics.catalogue import default_catalogue
from contrail.analytics.cost import COST_METADATA_KEY, price_observations
from contrail.schema.observation import ObservationType
from tests.analytics.conftest import NOW_US, generation

M = 1_000_000
EMB = ObservationType.EMBEDDING
# name, expected entry, input $/1M, output $/1M, (input, output, cached) tokens, expected total USD
TABLE = [
    ("gpt-4o", "openai/gpt-4o", "2.50", "10.00", (1000, 500, None), "0.0075"),
    ("openai/gpt-4o-2024-08-06", "openai/gpt-4o-2024-08-06", "2.50", "10.00", (1000, 500, None), "0.0075"),
    ("gpt-4o-2024-05-13", "openai/gpt-4o-2024-05-13", "5.00", "15.00", (1000, 500, None), "0.0125"),
    ("gpt-4o-2024-11-20", "openai/gpt-4o-2024-08-06", "2.50", "10.00", (1000, 500, None), "0.0075"),
    ("gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini", "0.15", "0.60", (M, M, None), "0.75"),
    ("ft:gpt-4o-mini-2024-07-18:my-org::abc123", "openai/gpt-4o-mini", "0.30", "1.20", (M, M, None), "1.50"),
    (
        "ft:gpt-4o-2024-08-06:acme:custom:xyz",
        "openai/gpt-4o-2024-08-06",
        "3.75",
        "15.00",
        (1000, 1000, None),
        "0.01875",
    ),
    ("ft:gpt-3.5-turbo-0125:org::id9", "openai/gpt-3.5-turbo", "3.00", "6.00", (1000, 1000, None), "0.009"),
    ("azure/gpt-4o-mini", "openai/gpt-4o-mini", "0.15", "0.60", (10000, 1000, None), "0.0021"),
    ("azure/gpt-35-turbo", "openai/gpt-3.5-turbo", "0.50", "1.50", (1000, 1000, None), "0.002"),
    ("azure/gpt-4.1", "openai/gpt-4.1", "2.00", "8.00", (1000, 1000, None), "0.01"),
    ("gpt-4.1-2025-04-14", "openai/gpt-4.1", "2.00", "8.00", (1000, 1000, 500), "0.00925"),
    ("gpt-4.1-mini", "openai/gpt-4.1-mini", "0.40", "1.60", (M, 0, None), "0.40"),
    ("gpt-4.1-nano", "openai/gpt-4.1-nano", "0.10", "0.40", (M, M, None), "0.50"),
    ("o3", "openai/o3", "2.00", "8.00", (1000, 1000, None), "0.01"),
    ("o3-mini-2025-01-31", "openai/o3-mini", "1.10", "4.40", (1000, 1000, None), "0.0055"),
    ("o4-mini", "openai/o4-mini", "1.10", "4.40", (1000, 1000, None), "0.0055"),
    ("o1-2024-12-17", "openai/o1", "15.00", "60.00", (1000, 1000, None), "0.075"),
    ("gpt-5", "openai/gpt-5", "1.25", "10.00", (1000, 1000, None), "0.01125"),
    ("openai/gpt-5-mini-2025-08-07", "openai/gpt-5-mini", "0.25", "2.00", (1000, 1000, None), "0.00225"),
    ("gpt-5-nano", "openai/gpt-5-nano", "0.05", "0.40", (M, M, None), "0.45"),
    ("gpt-4-1106-preview", "openai/gpt-4-turbo", "10.00", "30.00", (1000, 1000, None), "0.04"),
    ("chatgpt-4o-latest", "openai/chatgpt-4o-latest", "5.00", "15.00", (1000, 1000, None), "0.02"),
    ("openrouter/openai/gpt-4o", "openai/gpt-4o", "2.50", "10.00", (1000, 500, None), "0.0075"),
    ("  GPT-4o-Mini  ", "openai/gpt-4o-mini", "0.15", "0.60", (M, M, None), "0.75"),
    (
        "claude-3-5-sonnet-20241022",
        "anthropic/claude-3-5-sonnet",
        "3.00",
        "15.00",
        (1000, 1000, None),
        "0.018",
    ),
    (
        "anthropic/claude-3.5-sonnet",
        "anthropic/claude-3-5-sonnet",
        "3.00",
        "15.00",
        (1000, 1000, None),
        "0.018",
    ),
    ("claude-3-5-haiku-latest", "anthropic/claude-3-5-haiku", "0.80", "4.00", (1000, 1000, None), "0.0048"),
    ("claude-3-haiku-20240307", "anthropic/claude-3-haiku", "0.25", "1.25", (M, M, None), "1.50"),
    ("claude-3-opus-20240229", "anthropic/claude-3-opus", "15.00", "75.00", (1000, 1000, None), "0.09"),
    (
        "claude-3-7-sonnet-20250219",
        "anthropic/claude-3-7-sonnet",
        "3.00",
        "15.00",
        (10000, 1000, 8000),
        "0.0234",
    ),
    ("claude-sonnet-4-20250514", "anthropic/claude-sonnet-4", "3.00", "15.00", (1000, 1000, None), "0.018"),
    ("claude-opus-4-1-20250805", "anthropic/claude-opus-4-1", "15.00", "75.00", (1000, 1000, None), "0.09"),
    ("claude-opus-4-5-20251101", "anthropic/claude-opus-4-5", "5.00", "25.00", (1000, 1000, None), "0.03"),
    ("claude-haiku-4-5", "anthropic/claude-haiku-4-5", "1.00", "5.00", (1000, 1000, None), "0.006"),
    (
        "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic/claude-3-5-sonnet",
        "3.00",
        "15.00",
        (1000, 1000, None),
        "0.018",
    ),
    (
        "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
        "anthropic/claude-3-haiku",
        "0.25",
        "1.25",
        (1000, 1000, None),
        "0.0015",
    ),
    (
        "meta.llama3-70b-instruct-v1:0",
        "bedrock/meta.llama3-70b-instruct",
        "2.65",
        "3.50",
        (1000, 1000, None),
        "0.00615",
    ),
    (
        "us.meta.llama3-3-70b-instruct-v1:0",
        "bedrock/meta.llama3-3-70b-instruct",
        "0.72",
        "0.72",
        (M, M, None),
        "1.44",
    ),
    ("amazon.nova-pro-v1:0", "bedrock/amazon.nova-pro", "0.80", "3.20", (M, M, None), "4.00"),
    (
        "vertex_ai/claude-3-5-sonnet-v2@20241022",
        "anthropic/claude-3-5-sonnet",
        "3.00",
        "15.00",
        (1000, 1000, None),
        "0.018",
    ),
    ("gemini-1.5-pro-002", "google/gemini-1.5-pro", "1.25", "5.00", (1000, 1000, None), "0.00625"),
    ("models/gemini-2.0-flash-001", "google/gemini-2.0-flash", "0.10", "0.40", (M, M, None), "0.50"),
    ("vertex_ai/gemini-2.5-pro", "google/gemini-2.5-pro", "1.25", "10.00", (1000, 1000, None), "0.01125"),
    ("gemini/gemini-2.5-flash", "google/gemini-2.5-flash", "0.30", "2.50", (M, M, None), "2.80"),
    (
        "gemini-2.5-flash-lite-preview-06-17",
        "google/gemini-2.5-flash-lite",
        "0.10",
        "0.40",
        (M, M, None),
        "0.50",
    ),
    ("mistral-large-latest", "mistral/mistral-large", "2.00", "6.00", (1000, 1000, None), "0.008"),
    ("mistral/mistral-small-2503", "mistral/mistral-small", "0.10", "0.30", (M, M, None), "0.40"),
    ("codestral-2501", "mistral/codestral", "0.30", "0.90", (M, M, None), "1.20"),
    ("groq/llama-3.3-70b-versatile", "groq/llama-3.3-70b-versatile", "0.59", "0.79", (M, M, None), "1.38"),
    ("llama-3.1-8b-instant", "groq/llama-3.1-8b-instant", "0.05", "0.08", (M, M, None), "0.13"),
    (
        "groq/meta-llama/llama-4-scout-17b-16e-instruct",
        "groq/meta-llama/llama-4-scout-17b-16e-instruct",
        "0.11",
        "0.34",
        (M, M, None),
        "0.45",
    ),
    (
        "together_ai/meta-llama/Llama-4-Scout-17B-16E-Instruct",
        "together/meta-llama/llama-4-scout-17b-16e-instruct",
        "0.18",
        "0.59",
        (M, M, None),
        "0.77",
    ),
    (
        "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "together/meta-llama/llama-3.3-70b-instruct-turbo",
        "0.88",
        "0.88",
        (M, M, None),
        "1.76",
    ),
    (
        "together_ai/deepseek-ai/DeepSeek-R1",
        "together/deepseek-ai/deepseek-r1",
        "3.00",
        "7.00",
        (M, M, None),
        "10",
    ),
    ("command-r-plus-08-2024", "cohere/command-r-plus", "2.50", "10.00", (1000, 1000, None), "0.0125"),
    ("cohere/command-a-03-2025", "cohere/command-a", "2.50", "10.00", (1000, 1000, None), "0.0125"),
    ("command-r7b-12-2024", "cohere/command-r7b", "0.0375", "0.15", (M, M, None), "0.1875"),
    ("deepseek-chat", "deepseek/deepseek-chat", "0.28", "0.42", (M, M, M // 2), "0.574"),
    ("deepseek/deepseek-reasoner", "deepseek/deepseek-reasoner", "0.28", "0.42", (M, M, None), "0.70"),
    ("xai/grok-4-0709", "xai/grok-4", "3.00", "15.00", (1000, 1000, None), "0.018"),
    ("grok-3-mini", "xai/grok-3-mini", "0.30", "0.50", (M, M, None), "0.80"),
    ("x-ai/grok-4-fast", "xai/grok-4-fast", "0.20", "0.50", (1000, 1000, None), "0.0007"),
]
EMBEDDINGS = [
    ("text-embedding-3-small", "openai/text-embedding-3-small", "0.02", M, "0.02"),
    ("azure/text-embedding-3-large", "openai/text-embedding-3-large", "0.13", 1000, "0.00013"),
    ("amazon.titan-embed-text-v2:0", "bedrock/amazon.titan-embed-text-v2", "0.02", M, "0.02"),
    ("mistral-embed", "mistral/mistral-embed", "0.10", 10_000, "0.001"),
]


def test_table_is_large_and_varied() -> None:
    names = [row[0] for row in TABLE] + [row[0] for row in EMBEDDINGS]
    assert len(names) >= 40
    assert any(name.startswith("ft:") for name in names)
    assert any(name.startswith(("us.", "bedrock/")) for name in names)
    assert any(name.startswith("azure/") for name in names)
    assert any(name.startswith("groq/") for name in names)
    assert any(name.startswith("together_ai/") for name in names)


@pytest.mark.parametrize(
    ("name", "key", "input_rate", "output_rate", "usage", "total"), TABLE, ids=[r[0] for r in TABLE]
)
def test_generation_prices(
    name: str, key: str, input_rate: str, output_rate: str, usage: tuple[int, int, int | None], total: str
) -> None:
    match = default_catalogue().match(name)
    assert match is not None, f"{name} did not match"
    assert match.entry.key == key
    period, _ = match.entry.period_at(NOW_US)
    rates = period.fine_tuned if match.fine_tune and period.fine_tuned else period.rates
    assert (rates.input, rates.output) == (Decimal(input_rate), Decimal(output_rate))

    obs = generation(name, usage[0], usage[1], cached=usage[2])
    price_observations([obs])
    assert obs.cost.total == Decimal(total)
    assert obs.cost.input is not None and obs.cost.output is not None
    assert obs.cost.input + obs.cost.output == obs.cost.total
    assert obs.metadata[COST_METADATA_KEY]["status"] == "priced"
    assert obs.metadata[COST_METADATA_KEY]["model"] == key


@pytest.mark.parametrize(
    ("name", "key", "rate", "tokens", "total"), EMBEDDINGS, ids=[r[0] for r in EMBEDDINGS]
)
def test_embedding_prices(name: str, key: str, rate: str, tokens: int, total: str) -> None:
    obs = generation(name, tokens, None, kind=EMB)
    price_observations([obs])
    assert obs.metadata[COST_METADATA_KEY]["model"] == key
    assert obs.cost.total == Decimal(total)
    assert "partial_usage" not in obs.metadata[COST_METADATA_KEY]


def test_embedding_with_only_total_tokens() -> None:
    obs = generation("text-embedding-3-small", total=M, kind=EMB)
    price_observations([obs])
    assert obs.cost.total == Decimal("0.02")
