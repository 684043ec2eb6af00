"""Benchmark the fake provider (non-streaming req/s on loopback) and the local model (TTFT, tokens/s).

Run: .venv/bin/python bench/fake_llm.py [--duration 10] [--connections 64] [--skip-local]

The fake provider runs as a uvicorn subprocess on 127.0.0.1 (one worker, uvloop + httptools when
installed); load comes from wrk when it is on PATH, else from an asyncio/httpx generator in several
processes. The baseline, measured in the same run, is a constant-JSON ASGI app on the same server: the
ceiling for any Python app on this machine. Prints a table, then one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHAT_BODY = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Summarise the plot of Hamlet in two sentences, please."},
    ],
    "max_tokens": 100,
}


async def floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Baseline: read the body, answer a constant chat completion; no parsing, no logic."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    body = b'{"id":"x","object":"chat.completion","choices":[],"usage":{}}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(app: str, port: int, factory: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", "--app-dir", str(Path(__file__).parent)]
    if factory:
        command.append("--factory")
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{app} did not start on port {port}")


def _wrk(url: str, duration: int, connections: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        lua.write(f"wrk.body = {json.dumps(json.dumps(CHAT_BODY))}\n")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", lua.name, url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"could not read wrk output:\n{output}")
    return float(match.group(1))


def _httpx_worker(url: str, duration: float, connections: int, results: Any) -> None:
    import httpx

    async def run() -> int:
        done = 0
        deadline = time.monotonic() + duration
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:

            async def loop() -> None:
                nonlocal done
                while time.monotonic() < deadline:
                    (await client.post(url, json=CHAT_BODY)).raise_for_status()
                    done += 1

            await asyncio.gather(*(loop() for _ in range(connections)))
        return done

    results.put(asyncio.run(run()))


def _httpx_load(url: str, duration: int, connections: int, processes: int = 2) -> float:
    results: Any = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_httpx_worker, args=(url, duration, connections // processes, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    total = sum(results.get() for _ in workers)
    for worker in workers:
        worker.join()
    return total / duration


def measure_server(app: str, factory: bool, duration: int, connections: int) -> tuple[float, str]:
    """Requests/s of ``app`` under load, and which generator produced the load."""
    port = _free_port()
    process = _start_server(app, port, factory)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        if shutil.which("wrk"):
            _wrk(url, 1, connections)  # warm-up
            return _wrk(url, duration, connections), "wrk"
        return _httpx_load(url, duration, connections), "httpx (fallback)"
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure_local_model(max_tokens: int = 100) -> dict[str, float]:
    """Time to first token and decode tokens/s for a ``max_tokens`` answer from SmolLM2 (in-process)."""
    from contrail.local.model import LocalModel

    model = LocalModel(n_ctx=1024)
    body = {
        "model": "local",
        "messages": [
            {"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}
        ],
        "max_tokens": max_tokens,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
        "cache_prompt": False,  # measure a cold prompt, not a KV-cache hit from the previous run
    }
    model.chat({**body, "max_tokens": 4})  # warm-up
    runs = []
    for _ in range(3):
        marks: list[float] = []
        usage: dict[str, Any] = {}
        started = time.perf_counter()

        def on_chunk(
            chunk: dict[str, Any], marks: list[float] = marks, usage: dict[str, Any] = usage
        ) -> bool:
            if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                marks.append(time.perf_counter())
            usage.update(chunk.get("usage") or {})
            return False

        model.stream_chat(body, on_chunk)
        tokens = usage.get("completion_tokens", len(marks))
        runs.append(
            {
                "ttft_ms": (marks[0] - started) * 1000,
                "tokens": tokens,
                "tokens_per_s": (tokens - 1) / (marks[-1] - marks[0]),
                "total_s": marks[-1] - started,
            }
        )
    best = min(runs, key=lambda r: r["total_s"])
    return {k: round(v, 2) for k, v in best.items()}


def _machine() -> dict[str, Any]:
    timeit = subprocess.run(
        [sys.executable, "-m", "timeit", "-n", "2000", "sum(range(1000))"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "timeit_sum_range_1000": timeit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()

    fake_rps, generator = measure_server(
        "contrail.local.fake:create_fake_llm_app", True, args.duration, args.connections
    )
    floor_rps, _ = measure_server("fake_llm:floor_app", False, args.duration, args.connections)
    result: dict[str, Any] = {
        "machine": _machine(),
        "load_generator": generator,
        "connections": args.connections,
        "fake_provider_rps": round(fake_rps),
        "baseline_constant_asgi_rps": round(floor_rps),
        "fake_vs_baseline": round(fake_rps / floor_rps, 2),
        "target_rps": 5000,
    }
    if not args.skip_local:
        try:
            result["local_model"] = measure_local_model()
        except ImportError as err:
            result["local_model"] = {"skipped": str(err)}

    rows = [
        ("fake provider, POST /v1/chat/completions", f"{result['fake_provider_rps']:,} req/s"),
        ("baseline: constant-JSON ASGI app", f"{result['baseline_constant_asgi_rps']:,} req/s"),
    ]
    local = result.get("local_model", {})
    if "ttft_ms" in local:
        rows += [
            ("local model TTFT (100-token answer)", f"{local['ttft_ms']} ms"),
            ("local model decode rate", f"{local['tokens_per_s']} tokens/s"),
        ]
    width = max(len(name) for name, _ in rows)
    print(
        f"{'measure'.ljust(width)}  value   ({generator}, {args.connections} connections, {args.duration} s)"
    )
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
