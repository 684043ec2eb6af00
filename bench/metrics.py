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
fresh PostgreSQL database (``bench_metrics`` on 127.0.0.1, dropped afterwards), then VACUUM ANALYZE
as autovacuum would have done on a live server.

Queries: every call the dashboard makes for "last 30 days" (hour-aligned, as the page asks) plus
all-time cost by model, through a fresh ``contrail server`` (HTTP included), one warm-up then
``--runs`` timed calls; goal p95 < 200 ms. Ingest: in-process ``write_group`` of 512-span batches of
the same trace shape into a fresh SQLite file with no rollups (both ``apply`` replaced by no-ops),
the metric rollups only, and all rollups (metric + trace), alternated in rounds (best round each).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sqlite3
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
    t0 = time.perf_counter()
    for start in range(0, n_traces, 500):
        group = [o for i in range(start, min(start + 500, n_traces)) for o in builder.trace(i, n_traces)]
        write_group(engine, [WriteBatch(project_id, group)], now_us())
        if (start // 500) % 40 == 0:
            print(f"  postgres: {start * 10:,} observations written", flush=True)
    big = builder.big_trace()
    if big[0].trace_id != meta["big_trace_id"]:
        raise RuntimeError("the regenerated dataset differs from the cached one (seed or builder changed)")
    for start in range(0, len(big), 500):
        write_group(engine, [WriteBatch(project_id, big[start : start + 500])], now_us())
    engine.dispose()
    load_s = time.perf_counter() - t0
    name = url.rsplit("/", 1)[-1]
    postgres_query(name, "VACUUM ANALYZE")
    return {
        "load_s": round(load_s, 1),
        "observations": int(postgres_query(name, "SELECT count(*) FROM observations")),
        "db_bytes": int(postgres_query(name, "SELECT pg_database_size(current_database())")),
    }


INGEST_MODES = ("none", "metric", "all")


def ingest_rates(spans: int, rounds: int) -> dict[str, Any]:
    """Spans per second through write_group with no rollups, the metric rollups only, and all of them
    (metric + trace), best of ``rounds`` each, alternated."""
    from contrail.store import metric_rollups, trace_rollups
    from contrail.store.database import open_engine
    from contrail.store.migrate import upgrade
    from contrail.store.projects import create_project
    from contrail.store.writer import WriteBatch, write_group

    builder = DatasetBuilder(seed=7, end_us=1_760_000_000_000_000)
    observations = [o for i in range(spans // 10) for o in builder.trace(i, spans // 10)]
    batches = [observations[i : i + 512] for i in range(0, len(observations), 512)]
    real = (metric_rollups.apply, trace_rollups.apply)
    best: dict[str, float] = dict.fromkeys(INGEST_MODES, 0.0)
    inside = [0.0]  # seconds spent in trace_rollups.apply this round
    least_inside = float("inf")

    def noop(connection: Any, changes: Any) -> None:
        return None

    def timed_trace_apply(connection: Any, rollups: Any) -> None:
        t0 = time.perf_counter()
        real[1](connection, rollups)
        inside[0] += time.perf_counter() - t0

    for _ in range(rounds):
        for mode in INGEST_MODES:
            metric_rollups.apply = real[0] if mode != "none" else noop  # type: ignore[assignment]
            trace_rollups.apply = timed_trace_apply if mode == "all" else noop  # type: ignore[assignment]
            inside[0] = 0.0
            with tempfile.TemporaryDirectory() as tmp:
                engine = open_engine(f"sqlite:///{tmp}/ingest.db", sqlite_synchronous="NORMAL")
                upgrade(engine)
                project = create_project(engine, "bench").id
                prepared = [WriteBatch(project, list(b)).prepare(0) for b in batches]
                t0 = time.perf_counter()
                for batch in prepared:
                    write_group(engine, [batch], now_us=0)
                rate = len(observations) / (time.perf_counter() - t0)
                engine.dispose()
            best[mode] = max(best[mode], rate)
            if mode == "all":
                least_inside = min(least_inside, inside[0])
    metric_rollups.apply, trace_rollups.apply = real  # type: ignore[assignment]
    return {
        "spans": len(observations),
        "batch_spans": 512,
        **{f"{mode}_spans_per_s": round(best[mode]) for mode in INGEST_MODES},
        **{f"{mode}_us_per_span": round(1e6 / best[mode], 1) for mode in INGEST_MODES},
        "metric_vs_none_pct": round((best["metric"] / best["none"] - 1) * 100, 1),
        "all_vs_none_pct": round((best["all"] / best["none"] - 1) * 100, 1),
        "all_vs_metric_pct": round((best["all"] / best["metric"] - 1) * 100, 1),
        # measured inside the writer: less noisy than the difference of two runs
        "trace_rollups_apply_us_per_span": round(least_inside / len(observations) * 1e6, 2),
    }


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
    ap.add_argument("--ingest-rounds", type=int, default=3)
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
        rates = ingest_rates(args.ingest_spans, args.ingest_rounds)
        payload["ingest"] = rates
        print(
            "writer (in-process write_group, 512-span batches): "
            + ", ".join(f"{m} {rates[f'{m}_us_per_span']} µs/span" for m in INGEST_MODES)
            + f"; all rollups vs none {rates['all_vs_none_pct']:+}%,"
            + f" trace rollups {rates['all_vs_metric_pct']:+}%"
            + f" ({rates['trace_rollups_apply_us_per_span']} µs/span inside trace_rollups.apply)"
        )
    write_json(RESULTS / "metrics.json", payload)


if __name__ == "__main__":
    main()
