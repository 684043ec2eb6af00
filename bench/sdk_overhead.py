"""Per-call cost of Contrail's @observe vs the OpenTelemetry SDK and Langfuse, in one run.

    .venv/bin/python bench/sdk_overhead.py                  # all configs, table + JSON
    .venv/bin/python bench/sdk_overhead.py --n 20000 --reps 5 --out bench/results/sdk_overhead.json

Each config runs in a fresh subprocess against the same local sink (a stdlib HTTP server answering
207 to every POST, in its own process). Figures are wall clock per call over ``n`` calls, median of
``reps``, so the background export thread's share of the GIL is included. The traced function is
the peers' one: it returns a 500-character string built from a 500-character prompt.

Also measured: memory per queued span (tracemalloc, exporter idle) and single-process throughput
(spans/s emitted and exported with no drops).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import timeit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROMPT = ("You are a helpful assistant. Summarise the following context for the user. " * 8)[:500]
CONFIGS = [
    "baseline",
    "contrail_observe",
    "contrail_observe_no_io",
    "contrail_nested",
    "contrail_dead",
    "otel_span_8attrs_batch_noop",
    "otel_span_8attrs_batch_otlp_sink",
    "langfuse_observe",
]


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # header and body are separate writes: avoid 40 ms delayed ACKs

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"{}" if "protobuf" not in self.headers.get("Content-Type", "") else b""
        status = 207 if self.path == "/api/v1/ingest" else 200
        if status == 207:
            body = b'{"successes":[],"errors":[]}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_sink(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Sink)
    server.daemon_threads = True
    server.serve_forever()


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def build(config: str, sink: str, dead: str):
    def plain(prompt: str, temperature: float = 0.2) -> str:
        return (prompt[::-1] + "!")[:500]

    if config == "baseline":
        return plain, None
    if config.startswith("contrail"):
        import contrail

        contrail.configure(host=dead if config.endswith("_dead") else sink, secret_key="sk-bench")
        if config == "contrail_observe_no_io":
            return contrail.observe(capture_input=False, capture_output=False)(plain), contrail.shutdown
        if config == "contrail_nested":
            inner = contrail.observe(name="inner", as_type="generation")(plain)

            @contrail.observe
            def outer(prompt: str, temperature: float = 0.2) -> str:
                return inner(prompt, temperature)

            return outer, contrail.shutdown
        return contrail.observe(plain), contrail.shutdown
    if config.startswith("otel"):
        return build_otel(config, sink)
    if config == "langfuse_observe":
        import logging

        logging.disable(logging.CRITICAL)
        from langfuse import Langfuse, observe

        client = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", base_url=sink, timeout=2)
        return observe()(plain), client.shutdown
    raise SystemExit(f"unknown config {config}")


def build_otel(config: str, sink: str):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NoopExporter(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            return SpanExportResult.SUCCESS

    if config.endswith("noop"):
        exporter = NoopExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=sink + "/v1/traces")
    provider = TracerProvider()  # never the global provider
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    counter = iter(range(1 << 62))

    def traced(prompt: str, temperature: float = 0.2) -> str:
        i = next(counter)
        span = tracer.start_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.request.temperature": temperature,
                "gen_ai.request.max_tokens": 512,
                "gen_ai.usage.input_tokens": 100 + (i & 1023),
                "gen_ai.usage.output_tokens": 20 + (i & 255),
                "gen_ai.response.id": "chatcmpl-abc123",
                "user.id": "user-42",
            },
        )
        out = (prompt[::-1] + "!")[:500]
        span.end()
        return out

    return traced, provider.shutdown


def run_config(config: str, n: int, reps: int, sink: str, dead: str) -> dict[str, object]:
    call, stop = build(config, sink, dead)
    for _ in range(min(n, 2000)):
        call(PROMPT, temperature=0.2)
    per_call = []
    for _ in range(reps):
        start = time.perf_counter_ns()
        for _ in range(n):
            call(PROMPT, temperature=0.2)
        per_call.append((time.perf_counter_ns() - start) / n / 1000)
    extra: dict[str, object] = {}
    if config.startswith("contrail"):
        from contrail.sdk import tracer

        exporter = tracer.current_tracer().exporter
        contrail_flushed = exporter.flush(30) if exporter is not None else True
        extra = {"dropped": getattr(exporter, "dropped", None), "flushed": contrail_flushed}
    if stop is not None:
        stop()
    return {
        "config": config,
        "median_us": round(statistics.median(per_call), 2),
        "min_us": round(min(per_call), 2),
        "max_us": round(max(per_call), 2),
        **extra,
    }


def paced_cpu(config: str, sink: str, dead: str, count: int, rate: float) -> dict[str, object]:
    """Process CPU per call (export thread included, flush included) at ``rate`` calls/s.

    Below the exporter's capacity nothing is dropped, so this is the full cost of a traced call
    that is really exported, without the GIL contention of a tight loop.
    """
    call, stop = build(config, sink, dead)
    for _ in range(1000):
        call(PROMPT, temperature=0.2)
    if stop is not None and config.startswith("contrail"):
        import contrail

        contrail.flush(30)
    chunk = 100
    cpu0, start = time.process_time(), time.perf_counter()
    for i in range(0, count, chunk):
        for _ in range(chunk):
            call(PROMPT, temperature=0.2)
        delay = start + (i + chunk) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    extra: dict[str, object] = {}
    if config.startswith("contrail"):
        import contrail
        from contrail.sdk import tracer

        contrail.flush(30)
        extra["dropped"] = getattr(tracer.current_tracer().exporter, "dropped", None)
    elif stop is not None:
        stop()
    cpu_us = (time.process_time() - cpu0) / count * 1e6
    return {"config": f"paced_{config}", "rate_per_s": rate, "cpu_us_per_call": round(cpu_us, 2), **extra}


def memory_per_span(count: int) -> float:
    """Bytes held per queued span (exporter thread idle: huge interval and batch)."""
    import tracemalloc

    import contrail

    contrail.configure(host="http://127.0.0.1:9", flush_interval=3600, batch_size=10**9, max_queue=10**9)
    traced = contrail.observe(lambda prompt, temperature=0.2: (prompt[::-1] + "!")[:500])
    traced(PROMPT)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(count):
        traced(PROMPT, temperature=0.2)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / count


def throughput(sink: str, count: int) -> dict[str, object]:
    """Spans/s one thread can emit and have exported (default queue), and how many were dropped."""
    import contrail
    from contrail.sdk import tracer

    contrail.configure(host=sink, secret_key="sk-bench")
    traced = contrail.observe(lambda prompt, temperature=0.2: (prompt[::-1] + "!")[:500])
    start = time.perf_counter()
    for _ in range(count):
        traced(PROMPT, temperature=0.2)
    emitted = time.perf_counter() - start
    contrail.flush(60)
    total = time.perf_counter() - start
    exporter = tracer.current_tracer().exporter
    return {
        "spans": count,
        "emit_spans_per_s": round(count / emitted),
        "exported_spans_per_s": round(getattr(exporter, "sent", 0) / total),
        "dropped": getattr(exporter, "dropped", None),
    }


def child(args: argparse.Namespace) -> None:
    if args.config == "memory":
        print(json.dumps({"config": "memory", "bytes_per_queued_span": round(memory_per_span(args.n))}))
    elif args.config == "throughput":
        print(json.dumps({"config": "throughput", **throughput(args.sink, args.n)}))
    elif args.config.startswith("paced_"):
        print(json.dumps(paced_cpu(args.config.removeprefix("paced_"), args.sink, args.dead, args.n, 5_000)))
    else:
        print(json.dumps(run_config(args.config, args.n, args.reps, args.sink, args.dead)))


def in_subprocess(config: str, n: int, reps: int, sink: str, dead: str) -> dict[str, object]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--config",
        config,
        "--n",
        str(n),
        "--reps",
        str(reps),
        "--sink",
        sink,
        "--dead",
        dead,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ})
    if done.returncode != 0:
        return {"config": config, "error": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--config")
    parser.add_argument("--sink")
    parser.add_argument("--dead")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    port = free_port()
    threading.Thread(target=serve_sink, args=(port,), daemon=True).start()
    sink, dead = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{free_port()}"
    rows = [in_subprocess(c, args.n, args.reps, sink, dead) for c in CONFIGS]
    rows.append(in_subprocess("memory", 10_000, 1, sink, dead))
    rows.append(in_subprocess("throughput", 50_000, 1, sink, dead))
    for config in ("baseline", "contrail_observe", "otel_span_8attrs_batch_otlp_sink", "langfuse_observe"):
        rows.append(in_subprocess(f"paced_{config}", 10_000, 1, sink, dead))
    report(rows, args)


def report(rows: list[dict[str, object]], args: argparse.Namespace) -> None:
    base = next((r["median_us"] for r in rows if r["config"] == "baseline"), 0.0)
    print(f"{'config':36} {'µs/call':>9} {'overhead':>9}  (min-max)          notes")
    for row in rows:
        if "median_us" in row:
            over = float(row["median_us"]) - float(base)  # type: ignore[arg-type]
            notes = f"dropped={row['dropped']}" if "dropped" in row else ""
            print(
                f"{row['config']:36} {row['median_us']:>9} {over:>9.2f}  "
                f"({row['min_us']}-{row['max_us']})  {notes}"
            )
        else:
            print(f"{row['config']:36} {json.dumps({k: v for k, v in row.items() if k != 'config'})}")
    cpu_ref = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_reference_sum_range_1000_us": round(cpu_ref, 1),
        "n": args.n,
        "reps": args.reps,
        "rows": rows,
    }
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
