"""Prompt fetching: contrail.get_prompt cache hits and uncached fetches, next to the Langfuse SDK's
get_prompt pointed at the same Contrail server (its Langfuse-compatible API), in one run.

    .venv/bin/python bench/prompts.py                      # table + JSON (bench/results/prompts.json)
    .venv/bin/python bench/prompts.py --hits 200000 --fetches 500

Cache hit: ns per call over ``hits`` calls, best of 5 repetitions (timeit), prompt warm in the cache.
Uncached: wall time of ``fetches`` sequential fetches with the cache disabled (cache_ttl_seconds=0),
p50/p95/p99, against a fresh ``contrail server`` (SQLite) on 127.0.0.1 started by this script.
Goals: hit < 2 µs, uncached p95 < 10 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import RESULTS, ContrailServer, machine_info, print_table, write_json

NAME = "support/triage"
TEMPLATE = "You triage support tickets for {{product}}. Classify: {{ticket}}\n" * 10


def _hit_ns(call: Callable[[], Any], hits: int) -> float:
    call()
    return min(timeit.repeat(call, number=hits, repeat=5)) / hits * 1e9


def _fetch_ms(call: Callable[[], Any], fetches: int) -> dict[str, float]:
    for _ in range(20):  # warm connections and server caches
        call()
    samples = []
    for _ in range(fetches):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": samples[int(len(samples) * 0.95) - 1],
        "p99_ms": samples[int(len(samples) * 0.99) - 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hits", type=int, default=200_000)
    parser.add_argument("--fetches", type=int, default=500)
    parser.add_argument("--out", type=Path, default=RESULTS / "prompts.json")
    args = parser.parse_args()
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-prompts-") as home:
        server = ContrailServer(Path(home)).start()
        try:
            results = _measure(server, args.hits, args.fetches)
        finally:
            server.stop()
    rows = [[r["client"], r["hit_ns"], r["p50_ms"], r["p95_ms"], r["p99_ms"]] for r in results]
    print_table(["client", "cache hit ns/call", "uncached p50 ms", "p95 ms", "p99 ms"], rows)
    write_json(args.out, {"machine": machine, "hits": args.hits, "fetches": args.fetches, "results": results})


def _measure(server: ContrailServer, hits: int, fetches: int) -> list[dict[str, Any]]:
    import contrail
    from contrail.sdk import prompts as sdk_prompts

    with server.client() as http:
        body = {
            "name": NAME,
            "prompt": TEMPLATE,
            "config": {"model": "gpt-4o-mini"},
            "labels": ["production"],
        }
        http.post("/api/v1/prompts", json=body).raise_for_status()
    contrail.configure(host=server.base, public_key=server.public, secret_key=server.secret, enabled=False)
    ours = {
        "client": "contrail.get_prompt",
        "hit_ns": _hit_ns(lambda: contrail.get_prompt(NAME), hits),
        **_fetch_ms(lambda: contrail.get_prompt(NAME, cache_ttl_seconds=0), fetches),
    }
    sdk_prompts._CLIENT.close()
    return [ours, _langfuse(server, hits, fetches)]


def _langfuse(server: ContrailServer, hits: int, fetches: int) -> dict[str, Any]:
    from langfuse import Langfuse
    from opentelemetry.sdk.trace import TracerProvider

    client = Langfuse(
        public_key=server.public,
        secret_key=server.secret,
        base_url=server.base,
        tracer_provider=TracerProvider(),
    )
    try:
        return {
            "client": "langfuse.get_prompt (same server)",
            "hit_ns": _hit_ns(lambda: client.get_prompt(NAME), hits),
            **_fetch_ms(lambda: client.get_prompt(NAME, cache_ttl_seconds=0), fetches),
        }
    finally:
        client.shutdown()


if __name__ == "__main__":
    main()
