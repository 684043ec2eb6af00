"""Dashboard/metrics API latency on 1M spans (SQLite, optionally PostgreSQL), and writer throughput
with and without the rollups.

    .venv/bin/python bench/metrics.py                  # reuse (or build) bench/query.py's dataset
    .venv/bin/python bench/metrics.py --traces 10000   # smaller dataset (cached separately)
    .venv/bin/python bench/metrics.py --postgres       # also load it into PostgreSQL and query there

Dataset: bench/query.py's (100k traces of 10 observations over 30 days + one 2,000-span trace),
cached in bench/results/query_dataset_<traces>/. The queries run on a COPY of it in a temporary
directory, so the server's first start migrates (and backfills) the copy, never the cache; the
revision the copy started from and the start time are reported. ``--postgres``: the same traces
(same seed and end time, checked by the long trace's id) written through ``write_group`` into a
fresh PostgreSQL database (``bench_metrics`` on 127.0.0.1, dropped afterwards), with an ANALYZE every
100k spans and a VACUUM ANALYZE at the end, as autovacuum would have done on a live server.

Queries: every call the dashboard makes for "last 30 days" (hour-aligned, as the page asks) plus
all-time cost by model, through a fresh ``contrail server`` (HTTP included), one warm-up then
``--runs`` timed calls; goal p95 < 200 ms. Ingest: in-process ``prepare`` + ``write_group`` of
512-span batches of the same trace shape into a fresh SQLite file with no rollups (both ``apply``
replaced by no-ops), the metric rollups only, all rollups (metric + trace), and all rollups with
cost calculation (``price_observations``), in rotated rounds; every run reported (``ingest_rates``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    ContrailServer,
    git_commit,
    machine_info,
    postgres_query,
    print_table,
    throwaway_postgres_db,
    write_json,
)
from query import DAY_US, DatasetBuilder, _rfc, dataset, measure

GOAL_MS = 200.0
HOUR_US = 3_600_000_000


def query_set(meta: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    end = meta["end_us"] // HOUR_US * HOUR_US + HOUR_US
    last30 = {"from_time": _rfc(end - 30 * DAY_US), "to_time": _rfc(end)}
    m = "/api/v1/metrics"
    return [
        ("all-time cost by model", f"{m}/observations", {"group_by": "model"}),
        (
            "30d series (traffic, tokens, latency, TTFT, errors)",
            f"{m}/observations",
            {"bucket": "auto", **last30},
        ),
        (
            "30d cost series stacked by model",
            f"{m}/observations",
            {"group_by": "model", "bucket": "auto", **last30},
        ),
        ("30d models table", f"{m}/observations", {"group_by": "model", **last30}),
        ("30d prompts table", f"{m}/observations", {"group_by": "prompt", **last30}),
        ("30d daily cost (projection)", f"{m}/observations", {"bucket": "day", **last30}),
        ("30d slowest names (top latency)", f"{m}/top", {"by": "name", "metric": "latency", **last30}),
        ("30d summary (cost per trace/user)", f"{m}/summary", last30),
        ("30d top users by cost", f"{m}/users", last30),
        ("30d latency by user (10 busiest)", f"{m}/segments", {"by": "user_id", **last30}),
        ("30d latency by session", f"{m}/segments", {"by": "session_id", **last30}),
        ("30d latency by metadata region", f"{m}/segments", {"by": "metadata:region", **last30}),
        ("30d scores", f"{m}/scores", last30),
        # The two panels' previous (exact) path, for before/after on the same database.
        ("exact: 30d summary (precision=exact)", f"{m}/summary", {"precision": "exact", **last30}),
        (
            "exact: 30d latency by metadata region (precision=exact)",
            f"{m}/segments",
            {"by": "metadata:region", "precision": "exact", **last30},
        ),
        (
            "exact: 1 day, model p95 (precision=exact)",
            f"{m}/observations",
            {
                "group_by": "model",
                "precision": "exact",
                "from_time": _rfc(end - DAY_US),
                "to_time": _rfc(end),
            },
        ),
    ]


def run_queries(
    home: Path, meta: dict[str, Any], runs: int, database_url: str | None = None
) -> tuple[list[dict[str, Any]], float]:
    t0 = time.perf_counter()
    server = ContrailServer(home, database_url).start(timeout_s=1800)  # on an old dataset: migrations
    start_s = time.perf_counter() - t0
    out = []
    try:
        with server.client(timeout=600) as client:
            for label, path, params in query_set(meta):
                stats = measure(client, path, params, runs)
                stats.update(query=label, path=path, params=params, meets_goal=stats["p95_ms"] < GOAL_MS)
                out.append(stats)
                print(
                    f"  {label}: p50 {stats['p50_ms']} ms, p95 {stats['p95_ms']} ms, rows {stats['rows']}",
                    flush=True,
                )
    finally:
        server.stop()
    return out, start_s


@contextlib.contextmanager
def sqlite_copy(home: Path) -> Iterator[Path]:
    """A copy of the cached dataset's home in a temporary directory (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="contrail-metrics-") as tmp:
        target = Path(tmp) / home.name
        target.mkdir()
        for name in ("contrail.db", "contrail.db-wal", "first-run-credentials.json", "dataset.json"):
            if (home / name).exists():
                shutil.copy2(home / name, target / name)
        yield target


def schema_revision(db: Path) -> str | None:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def load_postgres(home: Path, url: str, meta: dict[str, Any], seed: int) -> dict[str, Any]:
    """Write the dataset of ``meta`` into the empty database at ``url`` (schema and project from a
    first server start), the way bench/query.py builds the SQLite one."""
    from contrail.schema.timeconv import now_us
    from contrail.store.database import open_engine
    from contrail.store.projects import find_project
    from contrail.store.writer import WriteBatch, write_group

    server = ContrailServer(home, url).start()
    server.stop()
    creds = json.loads((home / "first-run-credentials.json").read_text())
    engine = open_engine(url)
    project_id = find_project(engine, creds["project"]).id
    builder = DatasetBuilder(seed, meta["end_us"])
    n_traces = meta["traces"] - 1
    name = url.rsplit("/", 1)[-1]
    t0 = time.perf_counter()
    for start in range(0, n_traces, 500):
        group = [o for i in range(start, min(start + 500, n_traces)) for o in builder.trace(i, n_traces)]
        write_group(engine, [WriteBatch(project_id, group)], now_us())
        if (start // 500) % 20 == 0:
            # Planner statistics as the tables grow, as autovacuum (or, with it off as on the bench
            # machine, the server's upkeep thread) keeps them on a live server.
            postgres_query(name, "ANALYZE")
        if (start // 500) % 40 == 0:
            print(f"  postgres: {start * 10:,} observations written", flush=True)
    big = builder.big_trace()
    if big[0].trace_id != meta["big_trace_id"]:
        raise RuntimeError("the regenerated dataset differs from the cached one (seed or builder changed)")
    for start in range(0, len(big), 500):
        write_group(engine, [WriteBatch(project_id, big[start : start + 500])], now_us())
    engine.dispose()
    load_s = time.perf_counter() - t0
    postgres_query(name, "VACUUM ANALYZE")
    return {
        "load_s": round(load_s, 1),
        "observations": int(postgres_query(name, "SELECT count(*) FROM observations")),
        "db_bytes": int(postgres_query(name, "SELECT pg_database_size(current_database())")),
    }


INGEST_MODES = ("core", "metric", "all", "all+cost")


def ingest_rates(spans: int, rounds: int, shape: str = "live") -> dict[str, Any]:
    """Spans per second through ``prepare`` + ``write_group`` (in-process, 512-span batches, a fresh
    SQLite file each run) in four modes: ``core`` (no rollups, no pricing: the writer before issue 7),
    ``metric`` (metric rollups), ``all`` (metric + trace rollups) and ``all+cost`` (the same, plus
    ``price_observations`` with the built-in catalogue, timed as if on the writer's thread: the
    conservative reading, as the server prices on the request side).

    ``rounds`` rounds, each running every mode once, the order rotated by one each round so no mode
    always runs first or last; every run is reported, and each mode's cost is the median of its
    per-round ratios to ``core`` (paired within a round, so slow drifts of a shared machine cancel).

    ``shape``: ``live`` starts a trace every 5 ms, as bench/ingest.py does (a batch falls in one or two
    hours); ``spread`` spreads the traces over 30 days like the query dataset (each 512-span batch
    touches ~8 hours: more rollup rows per batch, the worst case, e.g. a backfill).
    """
    from contrail.analytics.cost import price_observations
    from contrail.store import metric_rollups, trace_rollups

    real = (metric_rollups.apply, trace_rollups.apply)
    inside: dict[str, float] = {}  # seconds inside each optional step, this run
    timed = {
        "metric_apply": _timed(real[0], "metric_apply", inside),
        "trace_apply": _timed(real[1], "trace_apply", inside),
        "pricing": _timed(price_observations, "pricing", inside),
    }
    runs: list[dict[str, Any]] = []
    try:
        for round_no in range(rounds):
            order = INGEST_MODES[round_no % 4 :] + INGEST_MODES[: round_no % 4]
            for mode in order:
                inside.clear()
                metric_rollups.apply = timed["metric_apply"] if mode != "core" else _noop  # type: ignore[assignment]
                trace_rollups.apply = timed["trace_apply"] if mode.startswith("all") else _noop  # type: ignore[assignment]
                run = _ingest_run(spans, shape, timed["pricing"] if mode == "all+cost" else None)
                inside_us = {f"{k}_us_per_span": round(v / run["spans"] * 1e6, 2) for k, v in inside.items()}
                runs.append({"round": round_no + 1, "mode": mode, **run, **inside_us})
                print(
                    f"  ingest round {round_no + 1} {mode}: {run['spans_per_s']:,} spans/s {inside_us}",
                    flush=True,
                )
    finally:
        metric_rollups.apply, trace_rollups.apply = real  # type: ignore[assignment]
    return {"shape": shape, **_ingest_summary(runs, rounds)}


def _timed(function: Any, name: str, seconds: dict[str, float]) -> Any:
    def run(*args: Any) -> None:
        t0 = time.perf_counter()
        function(*args)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0

    return run


def _noop(connection: Any, changes: Any) -> None:
    return None


def _ingest_run(spans: int, shape: str, pricer: Any) -> dict[str, Any]:
    from contrail.store.database import open_engine
    from contrail.store.migrate import upgrade
    from contrail.store.projects import create_project
    from contrail.store.writer import WriteBatch, write_group

    # A fresh copy of the same observations each run: pricing writes its marker into them.
    builder = DatasetBuilder(seed=7, end_us=1_760_000_000_000_000)
    n_traces = spans // 10
    spacing = n_traces if shape == "spread" else 30 * DAY_US // 5_000  # 5 ms apart
    observations = [o for i in range(n_traces) for o in builder.trace(i, spacing)]
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{tmp}/ingest.db", sqlite_synchronous="NORMAL")
        upgrade(engine)
        project = create_project(engine, "bench").id
        priced = written = 0.0
        t0 = time.perf_counter()
        for start in range(0, len(observations), 512):
            chunk = observations[start : start + 512]
            t1 = time.perf_counter()
            if pricer is not None:
                pricer(chunk)
            batch = WriteBatch(project, chunk).prepare(0)
            t2 = time.perf_counter()
            write_group(engine, [batch], now_us=0)
            priced, written = priced + t2 - t1, written + time.perf_counter() - t2
        total = time.perf_counter() - t0
        engine.dispose()
    n = len(observations)
    return {
        "spans": n,
        "spans_per_s": round(n / total),
        "us_per_span": round(total / n * 1e6, 1),
        "prepare_us_per_span": round(priced / n * 1e6, 1),  # pricing (when on) + prepare
        "write_group_us_per_span": round(written / n * 1e6, 1),
    }


def _ingest_summary(runs: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    def per_round(mode: str, field: str) -> list[float]:
        return [r[field] for r in runs if r["mode"] == mode]

    core = per_round("core", "us_per_span")
    out: dict[str, Any] = {"spans": runs[0]["spans"], "batch_spans": 512, "rounds": rounds, "runs": runs}
    for mode in INGEST_MODES:
        times = per_round(mode, "us_per_span")
        out[mode] = {
            "median_spans_per_s": round(1e6 / statistics.median(times)),
            "best_spans_per_s": round(1e6 / min(times)),
            "median_us_per_span": round(statistics.median(times), 1),
            "median_write_group_us_per_span": round(
                statistics.median(per_round(mode, "write_group_us_per_span")), 1
            ),
            "median_prepare_us_per_span": round(statistics.median(per_round(mode, "prepare_us_per_span")), 1),
            # throughput change vs core, per round (paired), then the median of those
            "vs_core_pct_per_round": [round((c / t - 1) * 100, 1) for c, t in zip(core, times, strict=True)],
        }
        out[mode]["vs_core_pct_median"] = round(statistics.median(out[mode]["vs_core_pct_per_round"]), 1)
        for step in ("metric_apply", "trace_apply", "pricing"):
            measured = [
                r[f"{step}_us_per_span"] for r in runs if r["mode"] == mode and f"{step}_us_per_span" in r
            ]
            if measured:  # timed inside the step: steadier than the difference of two runs
                out[mode][f"median_{step}_us_per_span"] = round(statistics.median(measured), 2)
    return out


def report_ingest(rates: dict[str, Any]) -> None:
    print(
        f"\nwriter (in-process prepare + write_group, 512-span batches, {rates['rounds']} rounds,"
        f" {rates['shape']} traces)"
    )
    print_table(
        ["mode", "µs/span (median)", "write_group µs/span", "spans/s median / best", "vs core, per round"],
        [
            [
                mode,
                rates[mode]["median_us_per_span"],
                rates[mode]["median_write_group_us_per_span"],
                f"{rates[mode]['median_spans_per_s']:,} / {rates[mode]['best_spans_per_s']:,}",
                f"{rates[mode]['vs_core_pct_median']:+}% ("
                + ", ".join(f"{v:+}" for v in rates[mode]["vs_core_pct_per_round"])
                + ")",
            ]
            for mode in INGEST_MODES
        ],
    )


def report(results: list[dict[str, Any]]) -> None:
    print_table(  # prints the table
        ["query", "p50 ms", "p95 ms", "first ms", "rows", f"p95<{GOAL_MS:g}"],
        [[r["query"], r["p50_ms"], r["p95_ms"], r["first_ms"], r["rows"], r["meets_goal"]] for r in results],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ingest-spans", type=int, default=50_000)
    ap.add_argument("--ingest-rounds", type=int, default=8)
    ap.add_argument("--ingest-shape", choices=("live", "spread"), default="live")
    ap.add_argument("--skip-queries", action="store_true")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--postgres", action="store_true", help="also load the dataset into PostgreSQL")
    args = ap.parse_args()
    info = machine_info()
    print(f"machine: {info}", flush=True)
    payload: dict[str, Any] = {"machine": info, "commit": git_commit(), "date": time.strftime("%Y-%m-%d")}
    if not args.skip_queries:
        cached, meta = dataset(args)
        with sqlite_copy(cached) as home:
            revision = schema_revision(home / "contrail.db")
            results, start_s = run_queries(home, meta, args.runs)
        payload.update(
            dataset=meta, migrated_from=revision, server_start_s=round(start_s, 1), queries=results
        )
        print(f"\nSQLite (the copy started at revision {revision}, first start {start_s:.1f} s)")
        report(results)
        if args.postgres:
            with tempfile.TemporaryDirectory() as tmp, throwaway_postgres_db("bench_metrics") as url:
                loaded = load_postgres(Path(tmp) / "pg-home", url, meta, args.seed)
                pg_results, _ = run_queries(Path(tmp) / "pg-home", meta, args.runs, url)
            payload["postgres"] = {**loaded, "queries": pg_results}
            print(f"\nPostgreSQL (loaded in {loaded['load_s']} s)")
            report(pg_results)
    if not args.skip_ingest:
        rates = ingest_rates(args.ingest_spans, args.ingest_rounds, args.ingest_shape)
        payload["ingest"] = rates
        report_ingest(rates)
    write_json(RESULTS / "metrics.json", payload)


if __name__ == "__main__":
    main()
