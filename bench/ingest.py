"""OTLP/HTTP ingest throughput of a fresh Contrail server, until acknowledged (= queryable).

    .venv/bin/python bench/ingest.py                               # 200k spans, SQLite (+ PostgreSQL if up)
    .venv/bin/python bench/ingest.py --spans 50000 --clients 8 --no-postgres
    .venv/bin/python bench/ingest.py --phoenix --phoenix-spans 10000   # + Arize Phoenix side by side

Spans are OpenTelemetry GenAI-convention traces of 10 spans (an ``invoke_agent`` root with
user.id/session.id, a retrieval, 6 chat generations, 2 tool calls), ~1 KB of input/output text each,
built with the opentelemetry-proto classes and pre-encoded into batches of 100 spans before the clock
starts. ``--clients`` threads POST them to /v1/traces concurrently (httpx, one connection each),
retrying 503s after the server's Retry-After. The server answers 200 only once the spans are committed,
so spans/s is "until queryable"; afterwards the count is checked through the API (paging
/api/v1/traces) and directly in the database.

Reported per backend: spans/s (whole run and second half), request latency, server CPU (process tree;
on PostgreSQL also its backends), machine busy cores, peak/final RSS of the server tree, bytes on
disk per span (SQLite: db+wal after ``PRAGMA wal_checkpoint(TRUNCATE)`` with the server stopped;
PostgreSQL: ``pg_database_size`` growth), 503 count. Raw JSON goes to bench/results/.

``--phoenix`` runs /work/shared/peers/phoenix_bench.py (fresh ``phoenix serve`` on SQLite, polls
GraphQL until all spans are counted) with the Phoenix venv's python, on fewer spans since Phoenix
manages ~100 spans/s here, and reports the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    ContrailServer,
    CpuWindow,
    PySpy,
    RssSampler,
    TextGen,
    checkpoint_sqlite,
    machine_info,
    mb,
    postgres_available,
    postgres_backends_cpu,
    postgres_query,
    print_table,
    throwaway_postgres_db,
    tree_rss,
    wait_quiet,
    write_json,
)

SPANS_PER_TRACE = 10
MODELS = [("gpt-4o-mini", "openai", 6), ("gpt-4o", "openai", 3), ("claude-3-5-sonnet", "anthropic", 2)]
MAX_RUN_S = 1800.0  # hard bound on one backend's send phase


# --- data ---------------------------------------------------------------------------------------


class SpanFactory:
    """Builds GenAI-convention OTLP spans; deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.text = TextGen(self.rng)
        self.base_ns = time.time_ns() - 6 * 3600 * 10**9

    def _id(self, n_bytes: int) -> bytes:
        return self.rng.getrandbits(n_bytes * 8).to_bytes(n_bytes, "big")

    def trace(self, index: int, out: list[Span]) -> None:
        rng = self.rng
        trace_id = self._id(16)
        root_id = self._id(8)
        t0 = self.base_ns + index * 5_000_000
        cur = t0 + 1_000_000
        children: list[Span] = []
        kinds = ["retrieval"] + ["chat"] * 6 + ["execute_tool"] * 2
        for kind in kinds:
            duration = rng.randint(20, 1500) * 1_000_000
            children.append(self._child(kind, trace_id, root_id, cur, cur + duration))
            cur += duration + 100_000
        root = self._span(trace_id, root_id, None, "invoke_agent support-bot", t0, cur + 1_000_000)
        self._attrs(
            root,
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "support-bot",
                "user.id": f"user-{rng.randrange(2000)}",
                "session.id": f"session-{rng.randrange(40000)}",
                "deployment.environment": rng.choice(["production", "production", "staging"]),
                "gen_ai.input.messages": _messages("user", self.text.text(500)),
                "gen_ai.output.messages": _messages("assistant", self.text.text(500)),
            },
        )
        out.append(root)
        out.extend(children)

    def _child(self, kind: str, trace_id: bytes, parent: bytes, start: int, end: int) -> Span:
        rng = self.rng
        if kind == "chat":
            model, provider, _ = rng.choices(MODELS, weights=[m[2] for m in MODELS])[0]
            span = self._span(trace_id, self._id(8), parent, f"chat {model}", start, end)
            self._attrs(
                span,
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": provider,
                    "gen_ai.request.model": model,
                    "gen_ai.response.model": model + "-2024-08-06",
                    "gen_ai.request.temperature": 0.2,
                    "gen_ai.request.max_tokens": 1024,
                    "gen_ai.response.id": f"chatcmpl-{rng.getrandbits(64):x}",
                    "gen_ai.response.finish_reasons": "stop",
                    "gen_ai.usage.input_tokens": rng.randint(100, 4000),
                    "gen_ai.usage.output_tokens": rng.randint(10, 800),
                    "gen_ai.input.messages": _messages("user", self.text.text(500)),
                    "gen_ai.output.messages": _messages("assistant", self.text.text(500)),
                },
            )
            if rng.random() < 0.02:
                span.status.code = Status.STATUS_CODE_ERROR
                span.status.message = "RateLimitError: 429 Too Many Requests"
            return span
        if kind == "retrieval":
            span = self._span(trace_id, self._id(8), parent, "retrieval kb", start, end)
            query, docs = self.text.text(200), self.text.text(800)
            self._attrs(
                span,
                {
                    "gen_ai.operation.name": "retrieval",
                    "gen_ai.data_source.id": "kb-main",
                    "gen_ai.retrieval.query.text": query,
                    "gen_ai.retrieval.documents": json.dumps([{"id": "doc-1", "content": docs}]),
                },
            )
            return span
        span = self._span(trace_id, self._id(8), parent, "execute_tool lookup_order", start, end)
        self._attrs(
            span,
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.id": f"call_{rng.getrandbits(48):x}",
                "gen_ai.tool.call.arguments": json.dumps({"query": self.text.text(300)}),
                "gen_ai.tool.call.result": json.dumps({"result": self.text.text(700)}),
            },
        )
        return span

    @staticmethod
    def _span(trace_id: bytes, span_id: bytes, parent: bytes | None, name: str, start: int, end: int) -> Span:
        span = Span(
            trace_id=trace_id,
            span_id=span_id,
            name=name,
            kind=Span.SPAN_KIND_CLIENT if parent else Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=start,
            end_time_unix_nano=end,
        )
        if parent:
            span.parent_span_id = parent
        return span

    @staticmethod
    def _attrs(span: Span, attributes: dict[str, Any]) -> None:
        for key, value in attributes.items():
            kv = span.attributes.add(key=key)
            if isinstance(value, str):
                kv.value.string_value = value
            elif isinstance(value, float):
                kv.value.double_value = value
            else:
                kv.value.int_value = value


def _messages(role: str, text: str) -> str:
    message: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": text}]}
    if role == "assistant":
        message["finish_reason"] = "stop"
    return json.dumps([message])


def make_batches(n_spans: int, batch_size: int, seed: int, use_gzip: bool) -> list[bytes]:
    """Pre-encoded ExportTraceServiceRequest bodies of ``batch_size`` spans (whole traces)."""
    factory = SpanFactory(seed)
    resource = ResourceSpans()
    for key, value in (("service.name", "support-bot"), ("service.version", "1.4.2")):
        resource.resource.attributes.add(key=key).value.string_value = value
    spans: list[Span] = []
    for index in range(max(1, n_spans // SPANS_PER_TRACE)):
        factory.trace(index, spans)
    bodies = []
    for start in range(0, len(spans), batch_size):
        request = ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.CopyFrom(resource)
        scope = rs.scope_spans.add()
        scope.scope.name = "opentelemetry.instrumentation.openai_v2"
        scope.spans.extend(spans[start : start + batch_size])
        body = request.SerializeToString()
        bodies.append(gzip.compress(body, 1) if use_gzip else body)
    return bodies


# --- load ---------------------------------------------------------------------------------------


@dataclass
class SendStats:
    latencies_ms: list[float] = field(default_factory=list)
    acked: list[tuple[float, int]] = field(default_factory=list)  # (time, spans) per 200
    http_503: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_all(
    server: ContrailServer, batches: list[bytes], spans_per_batch: list[int], args: Any
) -> SendStats:
    stats = SendStats()
    counter = itertools.count()
    deadline = time.monotonic() + MAX_RUN_S
    headers = {"Content-Type": "application/x-protobuf"}
    if args.gzip:
        headers["Content-Encoding"] = "gzip"

    def worker() -> None:
        with server.client(timeout=120) as client:
            while time.monotonic() < deadline and not stats.errors:
                i = next(counter)
                if i >= len(batches):
                    return
                _post_one(client, batches[i], spans_per_batch[i], headers, stats, deadline)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(MAX_RUN_S + 60)
    return stats


def _post_one(
    client: httpx.Client, body: bytes, n: int, headers: dict[str, str], stats: SendStats, deadline: float
) -> None:
    backoff = 0.05
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            response = client.post("/v1/traces", content=body, headers=headers)
        except httpx.HTTPError as exc:
            with stats.lock:
                stats.errors.append(repr(exc)[:300])
            return
        t1 = time.perf_counter()
        if response.status_code == 200:
            with stats.lock:
                stats.latencies_ms.append((t1 - t0) * 1000)
                stats.acked.append((t1, n))
            return
        if response.status_code in (429, 503):
            with stats.lock:
                stats.http_503 += 1
            retry_after = response.headers.get("Retry-After")
            time.sleep(float(retry_after) if retry_after else backoff)
            backoff = min(backoff * 2, 2.0)
            continue
        with stats.lock:
            stats.errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
        return
    with stats.lock:
        stats.errors.append("send phase exceeded its time bound")


def api_counts(server: ContrailServer) -> dict[str, Any]:
    """Traces and spans visible through the query API (pages of 500 traces)."""
    traces = spans = pages = 0
    cursor = None
    with server.client() as client:
        newest = client.get("/api/v1/traces", params={"limit": 1}).json()["data"]
        while pages < 10_000:
            params: dict[str, Any] = {"limit": 500}
            if cursor:
                params["cursor"] = cursor
            body = client.get("/api/v1/traces", params=params).raise_for_status().json()
            pages += 1
            traces += len(body["data"])
            spans += sum(t["observation_count"] for t in body["data"])
            cursor = body["next_cursor"]
            if not cursor:
                break
    return {"api_traces": traces, "api_spans": spans, "newest_trace_visible": bool(newest)}


# --- one backend --------------------------------------------------------------------------------


def run_backend(
    backend: str, batches: list[bytes], spans_per_batch: list[int], args: Any, root: Path
) -> dict[str, Any]:
    home = root / backend
    shutil.rmtree(home, ignore_errors=True)
    if backend == "postgres":
        dbname = f"contrail_bench_ingest_{os.getpid()}"
        with throwaway_postgres_db(dbname) as url:
            return _measure(
                backend, ContrailServer(home, url, _server_env(args)), batches, spans_per_batch, args, dbname
            )
    return _measure(
        backend, ContrailServer(home, None, _server_env(args)), batches, spans_per_batch, args, None
    )


def _server_env(args: Any) -> dict[str, str]:
    env = {"CONTRAIL_WORKERS": str(args.workers)}
    if args.synchronous:
        env["CONTRAIL_SQLITE_SYNCHRONOUS"] = args.synchronous
    if args.writer_process is not None:
        env["CONTRAIL_WRITER_PROCESS"] = "true" if args.writer_process else "false"
    if args.core_only:
        shim = str(Path(__file__).resolve().parent / "shims" / "core_only")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (shim, os.environ.get("PYTHONPATH")) if p)
        env["CONTRAIL_BENCH_CORE_ONLY"] = "1"
    return env


def _measure(
    backend: str,
    server: ContrailServer,
    batches: list[bytes],
    spans_per_batch: list[int],
    args: Any,
    pg_db: str | None,
) -> dict[str, Any]:
    n_spans = sum(spans_per_batch)
    result: dict[str, Any] = {
        "backend": backend,
        "spans": n_spans,
        "clients": args.clients,
        "workers": args.workers,
        "writer_process": args.writer_process is not False,
        "core_only": args.core_only,
    }
    server.start()
    try:
        ps = server.ps
        time.sleep(1.0)
        result["rss_idle_mb"] = mb(tree_rss(ps))
        empty_bytes = _disk_bytes(server, pg_db)
        result["busy_cores_before"] = round(wait_quiet(), 2)
        pg_cpu0 = postgres_backends_cpu(pg_db) if pg_db else 0.0
        sampler = RssSampler(ps)
        sampler.start()
        profiler = PySpy(ps.pid, RESULTS / f"profile_ingest_{backend}.txt") if args.profile else None
        with profiler or contextlib.nullcontext():
            window = CpuWindow(ps)
            t0 = time.perf_counter()
            stats = send_all(server, batches, spans_per_batch, args)
            t_end = time.perf_counter()
        pg_cpu = (postgres_backends_cpu(pg_db) - pg_cpu0) if pg_db else 0.0
        cpu = window.close(extra_cpu_s=pg_cpu)
        result["rss_peak_mb"] = mb(sampler.stop())
        result["rss_final_mb"] = mb(tree_rss(ps))
        if stats.errors:
            raise RuntimeError(f"{backend}: {len(stats.errors)} failed requests, first: {stats.errors[0]}")
        result.update(_rates(stats, t0, t_end, n_spans))
        result.update(cpu, postgres_backends_cpu_s=round(pg_cpu, 2) if pg_db else None)
        result["server_cpu_us_per_span"] = round((cpu["server_cpu_s"] + pg_cpu) / n_spans * 1e6, 1)
        if result["writer_process"]:  # its child is the writer (with a thread the split is unknown)
            result["writer_cpu_us_per_span"] = round(cpu["server_children_cpu_s"] / n_spans * 1e6, 1)
        result.update(api_counts(server))
        if profiler:
            result["profile"] = profiler.summary()
            result["profile_raw"] = str(profiler.out)
    finally:
        server.stop()
    result.update(_stored(server, pg_db, empty_bytes, n_spans))
    return result


def _rates(stats: SendStats, t0: float, t_end: float, n_spans: int) -> dict[str, Any]:
    acked = sorted(stats.acked)
    half_t = t0 + (t_end - t0) / 2
    second_half = sum(n for t, n in acked if t >= half_t)
    lat = sorted(stats.latencies_ms)
    return {
        "elapsed_s": round(t_end - t0, 2),
        "spans_per_s": round(n_spans / (t_end - t0)),
        "spans_per_s_second_half": round(second_half / (t_end - half_t)),
        "acked_spans": sum(n for _, n in acked),
        "http_503": stats.http_503,
        "request_ms_p50": round(statistics.median(lat), 1),
        "request_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 1),
        "request_ms_max": round(lat[-1], 1),
    }


def _disk_bytes(server: ContrailServer, pg_db: str | None) -> int:
    if pg_db:
        return int(postgres_query(pg_db, "SELECT pg_database_size(current_database())"))
    return sum(p.stat().st_size for p in server.home.glob("contrail.db*"))


def _stored(server: ContrailServer, pg_db: str | None, empty_bytes: int, n_spans: int) -> dict[str, Any]:
    if pg_db:
        postgres_query(pg_db, "CHECKPOINT")
        size = _disk_bytes(server, pg_db)
        count = postgres_query(pg_db, "SELECT count(*) FROM observations")
    else:
        import sqlite3

        size = checkpoint_sqlite(server.db_path)
        with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as connection:
            count = connection.execute("SELECT count(*) FROM observations").fetchone()[0]
    return {
        "db_rows_observations": count,
        "disk_bytes": size,
        "disk_bytes_per_span": round((size - empty_bytes) / n_spans),
    }


# --- Phoenix ------------------------------------------------------------------------------------


def run_phoenix(args: Any) -> dict[str, Any]:
    python = Path(args.phoenix_venv) / "bin" / "python"
    script = Path(args.peers_dir) / "phoenix_bench.py"
    if not python.exists():
        raise SystemExit(
            f"No Phoenix venv at {args.phoenix_venv}: python3 -m venv {args.phoenix_venv} && "
            f"{args.phoenix_venv}/bin/pip install arize-phoenix==20.26.1 arize-phoenix-otel==0.17.2 "
            "opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2 psutil==7.2.2"
        )
    out = RESULTS / f"phoenix_{args.phoenix_spans}.json"
    cmd = [str(python), str(script), "--spans", str(args.phoenix_spans), "--runs", "1", "--out", str(out)]
    cmd += ["--root", str(Path(args.phoenix_venv).parent / "phoenix_data")]
    wait_quiet()
    print("running", " ".join(cmd), flush=True)
    # phoenix_bench.py bounds its own loops and stops its server in a finally:; this bounds the whole.
    subprocess.run(cmd, check=True, timeout=3600, cwd=script.parent)
    run = json.loads(out.read_text())["runs"][0]
    return {
        "backend": "phoenix-sqlite",
        "spans": run["spans"],
        "clients": 1,
        "spans_per_s": run["ingest_spans_per_s"],
        "http_503": run["http_503_retries"],
        "server_cpu_s": run["server_cpu_s"],
        "server_cpu_us_per_span": round(run["server_cpu_s"] / run["spans"] * 1e6, 1),
        "rss_idle_mb": run["rss_idle_mb"],
        "rss_peak_mb": run["rss_peak_mb"],
        "rss_final_mb": run["rss_after_ingest_mb"],
        "disk_bytes_per_span": round(run["db_mb_per_100k_spans"] * 2**20 / 100_000),
        "other_procs_cpu_s": run["other_procs_cpu_s"],
        "raw": str(out),
    }


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=100, help="spans per OTLP request")
    ap.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    ap.add_argument("--workers", type=int, default=1, help="server processes (CONTRAIL_WORKERS)")
    ap.add_argument("--gzip", action="store_true", help="gzip request bodies (Content-Encoding: gzip)")
    ap.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=None,
                    help="also run on PostgreSQL at 127.0.0.1:5432 [default: when it answers]")  # fmt: skip
    ap.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--synchronous", choices=["FULL", "NORMAL"], default=None,
                    help="CONTRAIL_SQLITE_SYNCHRONOUS for the server [default: server default]")  # fmt: skip
    ap.add_argument("--writer-process", action=argparse.BooleanOptionalAction, default=None,
                    help="CONTRAIL_WRITER_PROCESS for the server [default: server default, on]")  # fmt: skip
    ap.add_argument("--core-only", action="store_true",
                    help="server without cost calculation and metric/trace rollups (bench/shims/core_only), "
                    "for the with/without A/B of issue 7")  # fmt: skip
    ap.add_argument("--phoenix", action="store_true", help="also measure Arize Phoenix (peers' method)")
    ap.add_argument("--phoenix-spans", type=int, default=10_000)
    ap.add_argument("--phoenix-venv", default="/tmp/peers/phoenix")
    ap.add_argument("--peers-dir", default="/work/shared/peers")
    ap.add_argument("--profile", action="store_true", help="py-spy record the server (adds ~5%% CPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.postgres is None:
        args.postgres = postgres_available()

    info = machine_info()
    print(f"machine: {info}", flush=True)
    t = time.perf_counter()
    batches = make_batches(args.spans, args.batch, args.seed, args.gzip)
    spans_per_batch = [args.batch] * len(batches)
    spans_per_batch[-1] = (args.spans // SPANS_PER_TRACE) * SPANS_PER_TRACE - args.batch * (len(batches) - 1)
    wire = sum(len(b) for b in batches)
    n_spans = sum(spans_per_batch)
    print(
        f"generated + encoded {n_spans:,} spans in {time.perf_counter() - t:.1f} s: "
        f"{len(batches):,} requests, "
        f"{wire / n_spans:,.0f} B/span on the wire{' (gzip)' if args.gzip else ''}",
        flush=True,
    )
    root = Path(tempfile.mkdtemp(prefix="contrail-bench-ingest-"))
    results: list[dict[str, Any]] = []
    try:
        for backend in [b for b, on in (("sqlite", args.sqlite), ("postgres", args.postgres)) if on]:
            print(
                f"--- {backend}: {n_spans:,} spans, {args.clients} clients, {args.workers} workers",
                flush=True,
            )
            results.append(run_backend(backend, batches, spans_per_batch, args, root))
            print(json.dumps(results[-1], indent=1), flush=True)
        if args.phoenix:
            results.append(run_phoenix(args))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    _report(results, info, args, wire / n_spans)


def _writer_label(result: dict[str, Any]) -> str:
    if "writer_process" not in result:
        return "—"  # a peer
    writer = "process" if result["writer_process"] else "thread"
    return f"{writer} core" if result.get("core_only") else writer


def _report(results: list[dict[str, Any]], info: dict[str, Any], args: Any, wire_per_span: float) -> None:
    headers = ["backend", "workers", "writer", "clients", "spans", "spans/s", "2nd half", "503s"]
    headers += ["server CPU µs/span", "of it writer"]
    headers += ["busy cores", "RSS idle/peak/final MB", "B/span on disk", "rows"]
    rows = []
    for r in results:
        rss = f"{r.get('rss_idle_mb')}/{r.get('rss_peak_mb')}/{r.get('rss_final_mb')}"
        row = [
            r["backend"],
            r.get("workers", 1),
            _writer_label(r),
            r.get("clients"),
            r["spans"],
            r["spans_per_s"],
            r.get("spans_per_s_second_half"),
        ]
        row += [r["http_503"], r["server_cpu_us_per_span"], r.get("writer_cpu_us_per_span") or "—"]
        row += [r.get("machine_busy_cores"), rss]
        rows.append([*row, r["disk_bytes_per_span"], r.get("db_rows_observations")])
    print()
    print_table(headers, rows)
    by = {r["backend"]: r for r in results}
    ratios = {}
    if "phoenix-sqlite" in by:
        for name in ("sqlite", "postgres"):
            if name in by:
                ratio = by[name]["spans_per_s"] / by["phoenix-sqlite"]["spans_per_s"]
                ratios[f"{name}_vs_phoenix_spans_per_s"] = round(ratio, 1)
        print("ratios:", ratios)
    payload = {
        "machine": info,
        "args": {k: str(v) for k, v in vars(args).items()},
        "wire_bytes_per_span": round(wire_per_span),
        "results": results,
        "ratios": ratios,
    }
    stamp = time.strftime("%Y%m%dT%H%M%S")
    write_json(args.out or RESULTS / f"ingest_{stamp}.json", payload)


if __name__ == "__main__":
    main()
