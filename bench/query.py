"""Query API latency on 1M spans in 100k traces (SQLite), through a fresh ``contrail server``.

    .venv/bin/python bench/query.py                    # build the dataset (or reuse it) and measure
    .venv/bin/python bench/query.py --rebuild          # throw the cached dataset away first
    .venv/bin/python bench/query.py --traces 10000     # smaller dataset (cached separately)

Dataset (cached under bench/results/query_dataset_<traces>/, reused unless --rebuild): traces of 10
observations over 30 days (agent root with user/session/tags/trace metadata, a retrieval, 6
generations on 4 models with tokens and cost, 2 tool calls; ~1 KB of text each; ~1% of generations
fail), one trace of 2,000 observations, the word ``zeppelin`` in one span of 1% of traces. It is
written by the DIRECT path: ``contrail.store.writer.write_group`` with Observation objects in groups
of 5,000 (the server's own writer, without HTTP/OTLP decoding; ingest is measured by ingest.py), on a
schema and project created by a first ``contrail server`` start.

Measurement: a fresh server process on that database (cold page cache of the process, warm OS
cache), then for each query one warm-up call and ``--runs`` timed calls (wall clock, HTTP included,
one client, sequential); p50/p95/max plus the first (cold) call and the number of rows returned.
The machine is checked for quiet first and its load during each query is recorded.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    ContrailServer,
    CpuWindow,
    TextGen,
    checkpoint_sqlite,
    git_commit,
    machine_info,
    mb,
    print_table,
    tree_rss,
    wait_quiet,
    write_json,
)

DAY_US = 86_400 * 1_000_000
DAYS = 30
# (model, provider, weight, USD per 1M input tokens, per 1M output tokens)
MODELS = [
    ("gpt-4o-mini", "openai", 55, "0.15", "0.60"),
    ("gpt-4o", "openai", 25, "2.50", "10.00"),
    ("claude-3-5-sonnet", "anthropic", 19, "3.00", "15.00"),
    ("o1-preview", "openai", 1, "15.00", "60.00"),
]
TAGS = ["web", "mobile", "api", "beta", "vip", "experiment-a", "experiment-b", "internal", "eval", "slack"]
RARE_WORD = "zeppelin"
COMMON_WORD = "customer"
SNAPSHOT = "-2024-08-06"
BIG_TRACE_SPANS = 2000
DATASET_VERSION = 2  # bump when the schema or index format changes


# --- dataset ------------------------------------------------------------------------------------


class DatasetBuilder:
    def __init__(self, seed: int, end_us: int) -> None:
        self.rng = random.Random(seed)
        self.text = TextGen(self.rng)
        self.end_us = end_us
        self.start_us = end_us - DAYS * DAY_US

    def _hex(self, n_chars: int) -> str:
        return f"{self.rng.getrandbits(n_chars * 4):0{n_chars}x}"

    def trace(self, index: int, n_traces: int) -> list[Any]:
        from contrail.schema.observation import Observation, ObservationType, TraceAttributes

        rng = self.rng
        trace_id = self._hex(32)
        root_id = self._hex(16)
        t0 = self.start_us + index * (DAYS * DAY_US // n_traces)
        user = f"user-{rng.randrange(2000)}"
        session = f"session-{rng.randrange(20000)}"
        env = "production" if rng.random() < 0.8 else "staging"
        kids: list[Observation] = []
        cur = t0 + 1000
        for kind in ["retrieval"] + ["generation"] * 6 + ["tool"] * 2:
            duration = int(rng.lognormvariate(12.5, 0.9))  # median ~270 ms
            kids.append(self._child(kind, trace_id, root_id, cur, duration, user, session, env))
            cur += duration + 100
        if rng.random() < 0.01:
            victim = rng.choice(kids)
            victim.input = {"messages": [{"role": "user", "content": f"{RARE_WORD} " + self.text.text(400)}]}
        root = Observation(
            trace_id=trace_id,
            span_id=root_id,
            name=rng.choice(["support-bot", "support-bot", "rag-answer", "triage", "summarise-ticket"]),
            start_us=t0,
            end_us=cur + 500,
            type=ObservationType.AGENT,
            input={"messages": [{"role": "user", "content": self.text.text(500)}]},
            output={"role": "assistant", "content": self.text.text(500)},
            user_id=user,
            session_id=session,
            environment=env,
            release=f"v1.{rng.randrange(12)}",
            trace=TraceAttributes(
                tags=rng.sample(TAGS, rng.randint(1, 3)),
                metadata={
                    "tier": rng.choices(["free", "pro", "enterprise"], weights=[70, 25, 5])[0],
                    "region": rng.choice(["us", "eu", "ap"]),
                },
            ),
        )
        return [root, *kids]

    def _child(
        self,
        kind: str,
        trace_id: str,
        parent: str,
        start: int,
        duration: int,
        user: str,
        session: str,
        env: str,
    ) -> Any:
        from contrail.schema.observation import Cost, Observation, ObservationType, Status, Usage

        rng = self.rng
        obs = Observation(
            trace_id=trace_id,
            span_id=self._hex(16),
            parent_span_id=parent,
            name=kind,
            start_us=start,
            end_us=start + duration,
            user_id=user,
            session_id=session,
            environment=env,
        )
        if kind == "generation":
            model, provider, _, price_in, price_out = rng.choices(MODELS, weights=[m[2] for m in MODELS])[0]
            tokens_in, tokens_out = rng.randint(100, 4000), rng.randint(10, 800)
            obs.type, obs.name, obs.provider = ObservationType.GENERATION, f"chat {model}", provider
            obs.model_requested, obs.model_response = model, model + SNAPSHOT
            obs.model_parameters = {"temperature": 0.2, "max_tokens": 1024}
            obs.usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out)
            cost_in = Decimal(price_in) * tokens_in / 1_000_000
            cost_out = Decimal(price_out) * tokens_out / 1_000_000
            obs.cost = Cost(input=cost_in, output=cost_out, total=cost_in + cost_out)
            obs.input = {"messages": [{"role": "user", "content": self.text.text(500)}]}
            obs.output = {"role": "assistant", "content": self.text.text(500)}
            if rng.random() < 0.01:
                obs.status, obs.status_message = Status.ERROR, "RateLimitError: 429 Too Many Requests"
        elif kind == "retrieval":
            obs.type = ObservationType.RETRIEVER
            obs.input = {"query": self.text.text(200)}
            obs.output = [{"id": "doc-1", "content": self.text.text(800)}]
        else:
            obs.type, obs.name = ObservationType.TOOL, "lookup_order"
            obs.input = {"query": self.text.text(300)}
            obs.output = {"result": self.text.text(700)}
        return obs

    def big_trace(self) -> list[Any]:
        """One trace of BIG_TRACE_SPANS observations: an agent loop of LLM and tool steps, 3 levels deep."""
        first = self.trace(0, 1)
        root = first[0]
        root.name, root.start_us = "long-agent-run", self.end_us - 3_600_000_000
        out = [root]
        cur, parent = root.start_us + 1000, root.span_id
        while len(out) < BIG_TRACE_SPANS:
            ctx = (root.user_id, root.session_id, "production")
            step = self._child("tool", root.trace_id, root.span_id, cur, 50_000, *ctx)
            step.name, parent = "agent step", step.span_id
            out.append(step)
            for kind in ("generation", "tool", "retrieval"):
                if len(out) < BIG_TRACE_SPANS:
                    out.append(self._child(kind, root.trace_id, parent, cur + 1000, 40_000, *ctx))
            cur += 60_000
        root.end_us = cur
        return out


def build_dataset(home: Path, n_traces: int, seed: int) -> dict[str, Any]:
    """Create the schema with a first server start, then write traces through write_group."""
    from contrail.schema.timeconv import now_us
    from contrail.store.database import open_engine
    from contrail.store.projects import find_project
    from contrail.store.writer import WriteBatch, write_group

    shutil.rmtree(home, ignore_errors=True)
    server = ContrailServer(home).start()
    server.stop()
    creds = json.loads((home / "first-run-credentials.json").read_text())
    engine = open_engine(f"sqlite:///{server.db_path}", sqlite_synchronous="NORMAL")
    project_id = find_project(engine, creds["project"]).id
    end_us = (now_us() // DAY_US) * DAY_US - 3600 * 1_000_000
    builder = DatasetBuilder(seed, end_us)
    t0 = time.perf_counter()
    spans = 0
    per_group = 500  # traces per transaction: 5,000 observations, the server's default group
    for start in range(0, n_traces, per_group):
        group = [
            o for i in range(start, min(start + per_group, n_traces)) for o in builder.trace(i, n_traces)
        ]
        write_group(engine, [WriteBatch(project_id, group)], now_us())
        spans += len(group)
        if (start // per_group) % 20 == 0:
            rate = spans / (time.perf_counter() - t0)
            print(f"  {spans:,} observations written ({rate:,.0f}/s)", flush=True)
    big = builder.big_trace()
    for start in range(0, len(big), 500):
        write_group(engine, [WriteBatch(project_id, big[start : start + 500])], now_us())
    engine.dispose()
    size = checkpoint_sqlite(server.db_path)
    return {
        "version": DATASET_VERSION,
        "traces": n_traces + 1,
        "observations": spans + len(big),
        "big_trace_id": big[0].trace_id,
        "sample_trace_id": None,
        "start_us": builder.start_us,
        "end_us": end_us,
        "build_path": (
            "direct: contrail.store.writer.write_group, 5,000 observations a transaction, synchronous=NORMAL"
        ),
        "build_s": round(time.perf_counter() - t0, 1),
        "built_at_commit": git_commit(),
        "db_bytes": size,
        "db_bytes_per_span": round(size / (spans + len(big))),
    }


def analyzed_copy(home: Path) -> Path:
    """A copy of the dataset with SQLite's planner statistics (``ANALYZE``), which the server lacks today."""
    import sqlite3

    target = home.with_name(home.name + "_analyzed")
    stamp = (home / "dataset.json").read_text()
    if (target / "analyzed").exists() and (target / "dataset.json").read_text() == stamp:
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in ("contrail.db", "first-run-credentials.json", "dataset.json"):
        shutil.copy2(home / name, target / name)
    with sqlite3.connect(target / "contrail.db") as connection:
        connection.execute("ANALYZE")
    (target / "analyzed").write_text("ANALYZE done\n")
    return target


def dataset(args: Any) -> tuple[Path, dict[str, Any]]:
    home = RESULTS / f"query_dataset_{args.traces}"
    marker = home / "dataset.json"
    if marker.exists() and not args.rebuild:
        meta = json.loads(marker.read_text())
        if meta.get("version") == DATASET_VERSION:
            print(f"reusing dataset {home} ({meta['observations']:,} observations)", flush=True)
            return home, meta
    print(f"building dataset: {args.traces:,} traces x 10 + 1 x {BIG_TRACE_SPANS} in {home}", flush=True)
    meta = build_dataset(home, args.traces, args.seed)
    marker.write_text(json.dumps(meta, indent=1))
    print(json.dumps(meta, indent=1), flush=True)
    return home, meta


# --- queries ------------------------------------------------------------------------------------


def _served(model: str) -> str:
    """The model name stored for a generation: the dated response model, which the filter matches."""
    return model + SNAPSHOT


def _rfc(us: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us / 1e6))


def query_set(
    meta: dict[str, Any], sample_trace: str, cursor: str
) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(group, label, path, params) of every measured query."""
    mid = meta["start_us"] + (meta["end_us"] - meta["start_us"]) // 2
    day = {"from_time": _rfc(mid), "to_time": _rfc(mid + DAY_US)}
    t = "/api/v1/traces"
    o = "/api/v1/observations"
    return [
        ("list", "traces: first page (50), unfiltered", t, {}),
        ("list", "traces: second page (keyset cursor)", t, {"cursor": cursor}),
        ("list", "traces: user_id=user-42", t, {"user_id": "user-42"}),
        ("list", "traces: session_id=session-42", t, {"session_id": "session-42"}),
        ("list", "traces: tag=vip", t, {"tag": "vip"}),
        ("list", "traces: model=gpt-4o", t, {"model": _served("gpt-4o")}),
        ("list", "traces: model=o1-preview (~6% of traces)", t, {"model": _served("o1-preview")}),
        ("list", "traces: error=true (~6%)", t, {"error": "true"}),
        ("list", "traces: min_latency_ms=6000", t, {"min_latency_ms": 6000}),
        ("list", "traces: metadata tier=enterprise (5%)", t, {"metadata": "tier=enterprise"}),
        ("list", "traces: time range (1 day of 30)", t, day),
        (
            "list",
            "traces: environment+tag+model+error",
            t,
            {"environment": "production", "tag": "beta", "model": _served("gpt-4o"), "error": "true"},
        ),
        ("list", "traces: sort=latency", t, {"sort": "latency"}),
        ("list", "traces: sort=cost, time range", t, {"sort": "cost", **day}),
        ("detail", f"trace detail: {BIG_TRACE_SPANS:,} observations", f"{t}/{meta['big_trace_id']}", {}),
        ("detail", "trace detail: 10 observations", f"{t}/{sample_trace}", {}),
        ("search", f"traces: q={RARE_WORD} (~1% of traces)", t, {"q": RARE_WORD}),
        ("search", f"traces: q={COMMON_WORD} (most spans)", t, {"q": COMMON_WORD}),
        ("search", f"observations: q={RARE_WORD}", o, {"q": RARE_WORD}),
        (
            "list",
            "observations: type=generation model=gpt-4o error=true",
            o,
            {"type": "generation", "model": _served("gpt-4o"), "error": "true"},
        ),
        (
            "list",
            "observations: type=generation model=o1-preview error=true",
            o,
            {"type": "generation", "model": _served("o1-preview"), "error": "true"},
        ),
        ("list", "observations: first page, unfiltered", o, {}),
        ("list", "sessions: first page", "/api/v1/sessions", {}),
        ("list", "users: first page", "/api/v1/users", {}),
    ]


def measure(client: httpx.Client, path: str, params: dict[str, Any], runs: int) -> dict[str, Any]:
    times: list[float] = []
    rows = 0
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
        body = response.json()
        rows = len(body.get("data") or body.get("observations") or [])
    timed = sorted(times[1:])
    return {
        "first_ms": round(times[0], 1),
        "p50_ms": round(statistics.median(timed), 1),
        "p95_ms": round(timed[max(0, math.ceil(0.95 * len(timed)) - 1)], 1),  # nearest rank
        "max_ms": round(timed[-1], 1),
        "rows": rows,
    }


GOALS_MS = {"list": 150.0, "search": 150.0, "detail": 300.0}


def run_queries(home: Path, meta: dict[str, Any], runs: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    server = ContrailServer(home).start()
    out: list[dict[str, Any]] = []
    try:
        ps = server.ps
        info = {"rss_idle_mb": mb(tree_rss(ps)), "busy_cores_before": round(wait_quiet(), 2)}
        with server.client(timeout=120) as client:
            page = client.get("/api/v1/traces", params={"limit": 50}).raise_for_status().json()
            sample = next(t["trace_id"] for t in page["data"] if t["observation_count"] == 10)
            for group, label, path, params in query_set(meta, sample, page["next_cursor"]):
                window = CpuWindow(ps)
                stats = measure(client, path, params, runs)
                cpu = window.close()
                goal = GOALS_MS[group]
                stats.update(
                    group=group,
                    query=label,
                    path=path,
                    params=params,
                    goal_ms=goal,
                    meets_goal=stats["p95_ms"] < goal,
                    machine_busy_cores=cpu["machine_busy_cores"],
                    other_procs_cpu_s=cpu["other_procs_cpu_s"],
                )
                out.append(stats)
                print(
                    f"  {label}: p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms, rows {stats['rows']}",
                    flush=True,
                )
        info["rss_after_mb"] = mb(tree_rss(ps))
    finally:
        server.stop()
    return out, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=100_000, help="10-observation traces in the dataset")
    ap.add_argument("--runs", type=int, default=20, help="timed calls per query (after one warm-up)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached dataset")
    ap.add_argument(
        "--analyze", action="store_true", help="measure on a copy of the dataset after SQLite ANALYZE"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    info = machine_info()
    print(f"machine: {info}", flush=True)
    home, meta = dataset(args)
    if args.analyze:
        home = analyzed_copy(home)
        meta = {**meta, "analyzed": True}
        print(f"measuring on {home} (ANALYZE statistics present)", flush=True)
    results, server_info = run_queries(home, meta, args.runs)
    print()
    rows = [
        [
            r["query"],
            r["p50_ms"],
            r["p95_ms"],
            r["max_ms"],
            r["first_ms"],
            r["rows"],
            f"< {r['goal_ms']:.0f}",
            "yes" if r["meets_goal"] else "NO",
            r["machine_busy_cores"],
        ]
        for r in results
    ]
    print(
        f"dataset: {meta['observations']:,} observations in {meta['traces']:,} traces; "
        f"built by {meta['build_path']}"
    )
    print_table(
        ["query", "p50 ms", "p95 ms", "max ms", "first ms", "rows", "goal p95", "met", "busy cores"], rows
    )
    payload = {"machine": info, "dataset": meta, "server": server_info, "runs": args.runs, "results": results}
    write_json(args.out or RESULTS / f"query_{time.strftime('%Y%m%dT%H%M%S')}.json", payload)


if __name__ == "__main__":
    main()
