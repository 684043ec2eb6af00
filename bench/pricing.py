"""Micro-benchmark: cost at ingest, in µs per observation, against decode+map measured in the same run.

Scenarios (CPU time of this process, best of several repetitions; fresh observations for each one,
built outside the timed region because pricing mutates them):

* ``decode+map``: OTLP protobuf decode and GenAI mapping of the same kind of span (the reference:
  cost at ingest must stay a small fraction of it, so ingest stays within 10% of the core benchmark);
* ``priced``: generations over a mix of 24 real model names (prefixed, dated, Bedrock, fine-tuned),
  with usage, matches cached (the steady state of a server);
* ``priced, cold match``: every name unseen (cache miss: the full matching rules);
* ``unpriced``: an unknown model; ``estimated``: no usage, ~1 KB of text estimated heuristically;
* ``client cost``: the client sent a cost, ours is computed and compared.

    .venv/bin/python bench/pricing.py [--n 2000] [--reps 15]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from decimal import Decimal

from ingest_mapping import SPANS, _batch

from contrail.analytics.catalogue import PriceCatalogue, builtin_entries, default_catalogue
from contrail.analytics.cost import price_observations
from contrail.ingest.limits import IngestLimits
from contrail.ingest.otlp import decode_export_request, map_export_request
from contrail.schema.observation import Cost, Observation, ObservationType, Usage

MODELS = [
    "gpt-4o-mini-2024-07-18", "gpt-4o", "openai/gpt-4.1-2025-04-14", "azure/gpt-4o-mini", "o4-mini",
    "gpt-5-mini", "ft:gpt-4o-mini-2024-07-18:org::abc", "text-embedding-3-small",
    "claude-3-5-sonnet-20241022", "claude-sonnet-4-5-20250929", "anthropic/claude-3.5-haiku",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0", "meta.llama3-70b-instruct-v1:0",
    "gemini-2.0-flash-001", "vertex_ai/gemini-2.5-pro", "models/gemini-1.5-flash-002",
    "groq/llama-3.3-70b-versatile", "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "mistral-large-latest", "command-r-plus-08-2024", "deepseek-chat", "xai/grok-4-0709",
    "claude-haiku-4-5", "gpt-4.1-nano",
]  # fmt: skip
TEXT = "The quick brown fox jumps over the lazy dog. " * 11


def _observations(n: int, scenario: str, offset: int = 0) -> list[Observation]:
    now_us = time.time_ns() // 1000
    out = []
    for i in range(n):
        model = MODELS[i % len(MODELS)]
        usage = Usage(1200 + i % 50, 300, 200 if i % 3 == 0 else None)
        fields: dict[str, object] = {}
        if scenario == "cold":
            model = f"{model}-{offset + i:08d}"  # a distinct dated snapshot each time: never cached
        elif scenario == "unpriced":
            model = f"in-house-model-{i % 5}"
        elif scenario == "estimated":
            usage = Usage()
            fields = {"input": [{"role": "user", "content": TEXT}], "output": TEXT}
        obs = Observation(
            trace_id="0" * 32,
            span_id=f"{i:016x}",
            name="chat",
            start_us=now_us,
            type=ObservationType.GENERATION,
            model_requested=model,
            usage=usage,
            cost=Cost(total=Decimal("0.001")) if scenario == "client" else Cost(),
            **fields,  # type: ignore[arg-type]
        )
        out.append(obs)
    return out


def _timed_pricing(
    n: int, reps: int, scenario: str, catalogue_factory: Callable[[], PriceCatalogue]
) -> float:
    best = float("inf")
    catalogue = catalogue_factory()
    price_observations(_observations(n, scenario), catalogue)  # warm the match cache (steady state)
    for rep in range(reps):
        batch = _observations(n, scenario, offset=(rep + 1) * n)
        started = time.process_time()
        price_observations(batch, catalogue)
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best


def _timed_decode_map(reps: int, batches: int) -> float:
    body = _batch("genai")
    limits = IngestLimits()
    now_us = time.time_ns() // 1000
    best = float("inf")
    for _ in range(reps):
        started = time.process_time()
        for _ in range(batches):
            map_export_request(decode_export_request(body, "application/x-protobuf"), limits, now_us)
        best = min(best, (time.process_time() - started) / (batches * SPANS) * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="observations per repetition")
    parser.add_argument("--reps", type=int, default=15, help="repetitions (the best is kept)")
    args = parser.parse_args()
    started = time.perf_counter()
    default_catalogue()
    load_ms = (time.perf_counter() - started) * 1000
    reference = _timed_decode_map(args.reps, max(1, args.n // SPANS))
    rows = [
        {"scenario": "decode+map (reference)", "us_per_obs": round(reference, 2), "pct_of_reference": 100.0}
    ]
    scenarios = [
        ("priced (cached match)", "priced", default_catalogue),
        ("priced, cold match", "cold", lambda: PriceCatalogue(builtin_entries())),
        ("unpriced (unknown model)", "unpriced", default_catalogue),
        ("estimated (no usage, ~1 KB text)", "estimated", default_catalogue),
        ("client cost kept + compared", "client", default_catalogue),
    ]
    for label, scenario, factory in scenarios:
        value = _timed_pricing(args.n, args.reps, scenario, factory)
        rows.append(
            {
                "scenario": label,
                "us_per_obs": round(value, 2),
                "pct_of_reference": round(value / reference * 100, 1),
            }
        )
    print(f"catalogue: {len(default_catalogue().entries)} entries, loaded and validated in {load_ms:.1f} ms")
    print(f"{'scenario':<36}{'µs/obs':>9}{'% of decode+map':>17}")
    for row in rows:
        print(f"{row['scenario']:<36}{row['us_per_obs']:>9}{row['pct_of_reference']:>17}")
    print(
        json.dumps(
            {"benchmark": "pricing", "n": args.n, "catalogue_load_ms": round(load_ms, 1), "results": rows}
        )
    )


if __name__ == "__main__":
    main()
