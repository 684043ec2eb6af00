"""Experiment runner: overhead per item beyond the target, and a 1,000-item run against the fake provider.

    .venv/bin/python bench/evals.py                       # table + JSON (bench/results/evals.json)
    .venv/bin/python bench/evals.py --items 2000 --overhead-items 20000

1. Overhead: a no-op target (async, and sync on the runner's thread pool) over N in-memory items,
   concurrency 16, no scorers. Per item: (run wall time - the same N target calls awaited directly) / N.
   Measured with tracing off, and with tracing on (one trace per item through the SDK's background
   exporter, posting to a sink subprocess), so the SDK's share is visible. Goal < 1 ms per item.
2. A 1,000-item experiment: a model target (real ``openai.AsyncOpenAI``) against the fake provider
   (``contrail fake-llm serve`` subprocess), concurrency 16, cache off, one scorer, results uploaded
   to a ``contrail server`` subprocess and traces exported to it. Goal < 30 s. With ``--memory`` the
   experiment is kept in memory instead (no Contrail server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _common import RESULTS, VENV_BIN, ContrailServer, free_port, machine_info, print_table, write_json

from contrail.evals.base import EvalCase, ScoreResult
from contrail.evals.client import DatasetItem, EvalsClient, MemoryBackend
from contrail.evals.runner import arun_experiment
from contrail.evals.targets import ModelTarget

_SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"successes":[],"errors":[]}'
        self.send_response(207); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


class NonEmpty:
    name = "non_empty"

    async def score(self, case: EvalCase) -> ScoreResult:
        ok = bool(case.output)
        return ScoreResult(self.name, value=float(ok), passed=ok)


@contextlib.contextmanager
def process(command: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def memory(n: int, prefix: str = "q") -> MemoryBackend:
    return MemoryBackend({"bench": [DatasetItem(f"item-{i}", f"{prefix} {i}") for i in range(n)]})


async def overhead(n: int, concurrency: int, tracing: bool, sync: bool) -> dict[str, Any]:
    async def noop_async(x: Any) -> Any:
        return x

    def noop_sync(x: Any) -> Any:
        return x

    target = noop_sync if sync else noop_async
    started = time.perf_counter()
    for i in range(n):
        if sync:
            noop_sync(i)
        else:
            await noop_async(i)
    direct = time.perf_counter() - started
    best = float("inf")
    for rep in range(3):
        store = memory(n)
        started = time.perf_counter()
        await arun_experiment(
            "bench", target, [], name=f"o{rep}", backend=store, concurrency=concurrency,
            tracing=tracing, progress=False, cache=False,
        )  # fmt: skip
        best = min(best, time.perf_counter() - started)
    per_item_us = (best - direct) / n * 1e6
    return {
        "items": n,
        "tracing": tracing,
        "sync": sync,
        "wall_s": round(best, 3),
        "per_item_us": round(per_item_us, 1),
    }


async def thousand(n: int, concurrency: int, fake_url: str, server: ContrailServer | None) -> dict[str, Any]:
    backend: Any
    if server is not None:
        backend = EvalsClient(server.base, secret_key=server.secret)
        await backend.create_dataset("bench")
        for start in range(0, n, 500):
            chunk = [
                {"id": f"item-{i}", "input": {"q": f"What is {i}?"}}
                for i in range(start, min(n, start + 500))
            ]
            await backend.upsert_items("bench", chunk)
    else:
        backend = MemoryBackend(
            {"bench": [DatasetItem(f"item-{i}", {"q": f"What is {i}?"}) for i in range(n)]}
        )
    target = ModelTarget(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "{{q}}"}],
        base_url=fake_url,
        api_key="sk-fake",
    )
    started = time.perf_counter()
    run = await arun_experiment(
        "bench", target, [NonEmpty()], name="thousand", backend=backend, concurrency=concurrency,
        progress=False, cache=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    import contrail

    contrail.flush(30)
    metrics = run.metrics()
    if isinstance(backend, EvalsClient):
        await backend.aclose()
    return {
        "items": n,
        "concurrency": concurrency,
        "backend": "contrail server" if server else "memory",
        "wall_s": round(wall, 2),
        "items_per_s": round(n / wall, 1),
        "errors": int(metrics["errors"]),
        "latency_p50_ms": round(metrics.get("latency_p50_ms", 0.0), 1),
        "non_empty_mean": metrics.get("non_empty.mean"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overhead-items", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--memory", action="store_true", help="keep the 1,000-item experiment in memory")
    parser.add_argument("--out", type=Path, default=RESULTS / "evals.json")
    args = parser.parse_args()
    info = machine_info()

    import contrail

    sink_port = free_port()
    rows, overheads = [], []
    with process([sys.executable, "-c", _SINK, str(sink_port)], sink_port):
        contrail.configure(host=f"http://127.0.0.1:{sink_port}", secret_key="sk-bench")
        for tracing, sync in ((False, False), (True, False), (True, True)):
            result = asyncio.run(overhead(args.overhead_items, args.concurrency, tracing, sync))
            overheads.append(result)
            kind, traced = "sync" if sync else "async", "on" if tracing else "off"
            label = f"overhead per item, {kind} no-op target, tracing {traced}"
            rows.append((label, f"{result['per_item_us']} µs", "< 1,000 µs"))
        contrail.shutdown(5)

    fake_port = free_port()
    fake = [str(VENV_BIN / "contrail"), "fake-llm", "serve", "--port", str(fake_port)]
    with process(fake, fake_port), tempfile.TemporaryDirectory() as home:
        server = None if args.memory else ContrailServer(Path(home) / "contrail").start()
        try:
            if server is not None:
                contrail.configure(host=server.base, secret_key=server.secret)
            big = asyncio.run(
                thousand(args.items, args.concurrency, f"http://127.0.0.1:{fake_port}/v1", server)
            )
        finally:
            contrail.shutdown(5)
            if server is not None:
                server.stop()
    rows.append(
        (f"{args.items}-item experiment, fake provider, concurrency {args.concurrency} ({big['backend']})",
         f"{big['wall_s']} s ({big['items_per_s']} items/s, {big['errors']} errors)", "< 30 s")
    )  # fmt: skip
    print_table(("measure", "result", "goal"), rows)
    payload = {"machine": info, "overhead": overheads, "experiment": big}
    print(json.dumps(payload, indent=1, default=str))
    write_json(args.out, payload)


if __name__ == "__main__":
    main()
