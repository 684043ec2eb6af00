"""Dashboard/metrics API latency on 1M spans (SQLite), and writer throughput with rollups on vs off.

    .venv/bin/python bench/metrics.py                  # reuse (or build) bench/query.py's dataset
    .venv/bin/python bench/metrics.py --traces 10000   # smaller dataset (cached separately)

Dataset: bench/query.py's (100k traces of 10 observations over 30 days + one 2,000-span trace),
cached in bench/results/query_dataset_<traces>/. A dataset built before migration 0010 gets its
rollups from the migration's backfill when the server starts (the time is reported).

Queries: every call the dashboard makes for "last 30 days" (hour-aligned, as the page asks) plus
all-time cost by model, through a fresh ``contrail server`` (HTTP included), one warm-up then
``--runs`` timed calls; goal p95 < 200 ms. Ingest: ``write_group`` of 512-span batches of the same
trace shape into a fresh SQLite file, with ``metric_rollups.apply`` live and replaced by a no-op,
alternated in rounds (best round each).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ContrailServer, git_commit, machine_info, print_table, write_json
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


def run_queries(home: Path, meta: dict[str, Any], runs: int) -> tuple[list[dict[str, Any]], float]:
    t0 = time.perf_counter()
    server = ContrailServer(home).start(timeout_s=1800)  # first start on an old dataset: backfill
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


def ingest_rates(spans: int, rounds: int) -> dict[str, float]:
    """Spans per second through write_group with rollups on and off (best of ``rounds`` each)."""
    from contrail.store import metric_rollups
    from contrail.store.database import open_engine
    from contrail.store.migrate import upgrade
    from contrail.store.projects import create_project
    from contrail.store.writer import WriteBatch, write_group

    builder = DatasetBuilder(seed=7, end_us=1_760_000_000_000_000)
    observations = [o for i in range(spans // 10) for o in builder.trace(i, spans // 10)]
    batches = [observations[i : i + 512] for i in range(0, len(observations), 512)]
    real_apply = metric_rollups.apply
    best: dict[str, float] = {"on": 0.0, "off": 0.0}
    for _ in range(rounds):
        for mode in ("off", "on"):
            metric_rollups.apply = real_apply if mode == "on" else (lambda connection, changes: None)  # type: ignore[assignment]
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
    metric_rollups.apply = real_apply
    return {
        "spans": len(observations),
        "on_spans_per_s": round(best["on"]),
        "off_spans_per_s": round(best["off"]),
        "change_pct": round((best["on"] / best["off"] - 1) * 100, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ingest-spans", type=int, default=50_000)
    ap.add_argument("--ingest-rounds", type=int, default=3)
    ap.add_argument("--skip-queries", action="store_true")
    args = ap.parse_args()
    info = machine_info()
    print(f"machine: {info}", flush=True)
    payload: dict[str, Any] = {"machine": info, "commit": git_commit(), "date": time.strftime("%Y-%m-%d")}
    if not args.skip_queries:
        home, meta = dataset(args)
        with sqlite3.connect(home / "contrail.db") as connection:
            rolled = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'metric_rollups'"
            ).fetchone()[0]
        results, start_s = run_queries(home, meta, args.runs)
        payload.update(dataset=meta, server_start_s=round(start_s, 1), backfilled=not rolled, queries=results)
        print()
        print(
            print_table(
                ["query", "p50 ms", "p95 ms", "first ms", "rows", f"p95<{GOAL_MS:g}"],
                [
                    [r["query"], r["p50_ms"], r["p95_ms"], r["first_ms"], r["rows"], r["meets_goal"]]
                    for r in results
                ],
            )
        )
    rates = ingest_rates(args.ingest_spans, args.ingest_rounds)
    payload["ingest"] = rates
    print(
        f"writer throughput: rollups on {rates['on_spans_per_s']:,}/s, off {rates['off_spans_per_s']:,}/s "
        f"({rates['change_pct']:+}%)"
    )
    write_json(RESULTS / "metrics.json", payload)


if __name__ == "__main__":
    main()
