"""GET /api/v1/metrics/*: exact aggregates and percentiles, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import LiveContrail, start_contrail

HOUR_US = 3_600_000_000
START = 1_759_996_800_000_000  # 2025-10-09T08:00:00Z, on an hour boundary
EXACT = {"precision": "exact"}


def _event(i: int, start_us: int, duration_ms: int, **fields: object) -> dict[str, object]:
    body = {
        "trace_id": f"{i + 1:032x}",
        "span_id": f"{i + 1:016x}",
        "name": "chat",
        "type": "generation",
        "start_us": start_us,
        "end_us": start_us + duration_ms * 1000,
    } | fields
    return {"id": f"ev-{i}", "type": "observation", "body": body}


def _seed(client: httpx.Client) -> None:
    """gpt-4o: 6 spans at 08:xx, 10..60 ms, one error; claude-x: 4 spans at 09:xx, 100..400 ms."""
    batch = [
        _event(
            i,
            START + i * 60_000_000,
            10 * (i + 1),
            model_requested="gpt-4o",
            usage={"input_tokens": 100, "output_tokens": 10, "cached_input_tokens": 40},
            cost_usd="0.001",
            ttft_us=5_000 * (i + 1),
            user_id="u1" if i < 4 else "u2",
            status="error" if i == 2 else "ok",
            metadata={"region": "us"},
        )
        for i in range(6)
    ] + [
        _event(
            6 + i,
            START + HOUR_US + i * 60_000_000,
            100 * (i + 1),
            model_requested="claude-x",
            usage={"input_tokens": 1000, "output_tokens": 100},
            cost_usd="0.0025",
            user_id="u2",
            prompt_name="greet",
            prompt_version=2,
            metadata={"region": "eu"},
        )
        for i in range(4)
    ]
    response = client.post("/api/v1/ingest", json={"batch": batch})
    assert response.status_code == 207
    assert response.json()["errors"] == []


def _by_group(rows: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {row["group"]: row for row in rows}


def test_totals_and_percentiles_ungrouped(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed(client)
        rows = client.get("/api/v1/metrics/observations", params=EXACT).json()["data"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["group"], row["bucket_start"], row["count"], row["error_count"]) == (None, None, 10, 1)
    assert row["error_rate"] == 0.1
    assert row["input_tokens"] == 4600
    assert row["output_tokens"] == 460
    assert row["cached_input_tokens"] == 240
    assert row["total_tokens"] == 5060
    assert row["cost_usd"] == "0.016"
    # nearest rank over 10,20,...,60,100,...,400 ms: ranks 5, 9, 10, 10
    assert row["latency_ms"] == {"p50": 50.0, "p90": 300.0, "p95": 400.0, "p99": 400.0}
    # ttft only on the six gpt-4o spans: 5..30 ms, ranks 3, 6, 6, 6
    assert row["ttft_ms"] == {"p50": 15.0, "p90": 30.0, "p95": 30.0, "p99": 30.0}


def test_group_by_model_and_hour_buckets(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed(client)
        rows = client.get(
            "/api/v1/metrics/observations", params={"group_by": "model", "bucket": "hour"} | EXACT
        ).json()
    data = rows["data"]
    assert [(r["group"], r["bucket_start"], r["count"]) for r in data] == [
        ("claude-x", "2025-10-09T09:00:00Z", 4),
        ("gpt-4o", "2025-10-09T08:00:00Z", 6),
    ]
    claude, gpt = data
    assert claude["latency_ms"] == {"p50": 200.0, "p90": 400.0, "p95": 400.0, "p99": 400.0}
    assert claude["ttft_ms"] == {"p50": None, "p90": None, "p95": None, "p99": None}
    assert gpt["latency_ms"] == {"p50": 30.0, "p90": 60.0, "p95": 60.0, "p99": 60.0}
    assert (gpt["error_count"], gpt["total_tokens"]) == (1, 660)


def test_filters_prompt_and_metadata_groups(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed(client)
        get = client.get
        by_user = _by_group(
            get("/api/v1/metrics/observations", params={"group_by": "user_id"}).json()["data"]
        )
        by_region = _by_group(
            get("/api/v1/metrics/observations", params={"group_by": "metadata:region"}).json()["data"]
        )
        by_prompt = _by_group(
            get("/api/v1/metrics/observations", params={"group_by": "prompt"}).json()["data"]
        )
        filtered = get("/api/v1/metrics/observations", params={"model": "gpt-4o", "user_id": "u2"}).json()[
            "data"
        ]
    assert {k: v["count"] for k, v in by_user.items()} == {"u1": 4, "u2": 6}
    assert {k: v["count"] for k, v in by_region.items()} == {"eu": 4, "us": 6}
    assert {k: v["count"] for k, v in by_prompt.items()} == {None: 6, "greet@2": 4}
    assert [(r["count"], r["latency_ms"]["p50"]) for r in filtered] == [(2, 50.0)]


def test_top_users_by_cost_and_slowest_models(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed(client)
        by_cost = client.get("/api/v1/metrics/top", params={"by": "user_id", "metric": "cost"}).json()["data"]
        slowest = client.get(
            "/api/v1/metrics/top", params={"by": "model", "metric": "latency", "n": 1}
        ).json()
    assert [(r["group"], str(r["value"]), r["count"]) for r in by_cost] == [
        ("u2", "0.012", 6),
        ("u1", "0.004", 4),
    ]
    assert slowest["data"] == [{"group": "claude-x", "value": 250.0, "count": 4}]


def test_sqlite_and_postgres_give_identical_percentiles(tmp_path: Path, postgres_database: str) -> None:
    durations = [(i * 7919) % 997 + (i % 5) * 3 for i in range(257)]  # ties and no order
    batch = [
        _event(i, START + i * 1_000_000, d, model_requested="m" + str(i % 3), ttft_us=(d * 13) % 101 * 1000)
        for i, d in enumerate(durations)
    ]
    results: list[list[Any]] = []
    for url in (f"sqlite:///{tmp_path / 'c.db'}", postgres_database):
        server, live = start_contrail(url, tmp_path / f"home-{len(results)}")
        try:
            with live.client() as client:
                assert client.post("/api/v1/ingest", json={"batch": batch}).json()["errors"] == []
                results.append(
                    [
                        client.get("/api/v1/metrics/observations", params=p).json()["data"]
                        for p in (EXACT, {"group_by": "model", "bucket": "minute"}, {"group_by": "model"})
                    ]
                )
        finally:
            server.stop()
    sqlite, postgres = results
    assert sqlite == postgres
    expected = {
        f"p{p}": float(sorted(durations)[math.ceil(p * len(durations) / 100) - 1]) for p in (50, 90, 95, 99)
    }
    assert sqlite[0][0]["latency_ms"] == expected
    assert len(sqlite[1]) == 15  # 3 models x 5 minutes (257 s)
    assert [r["source"] for r in sqlite[2]] == ["rollups"] * 3  # histogram percentiles agree too


def test_bad_input_is_a_422_with_the_envelope(sqlite_contrail: LiveContrail) -> None:
    cases = [
        (
            "/api/v1/metrics/observations",
            {"from_time": "2026-01-02T00:00:00Z", "to_time": "2026-01-01T00:00:00Z"},
            "from_time",
        ),
        (
            "/api/v1/metrics/observations",
            {"from_time": "2020-01-01T00:00:00Z", "to_time": "2026-01-01T00:00:00Z", "bucket": "minute"},
            "bucket",
        ),
        ("/api/v1/metrics/observations", {"bucket": "fortnight"}, "bucket"),
        ("/api/v1/metrics/observations", {"group_by": "colour"}, "group_by"),
        ("/api/v1/metrics/observations", {"group_by": "metadata:a'b"}, "group_by"),
        ("/api/v1/metrics/top", {"metric": "vibes"}, "metric"),
        ("/api/v1/metrics/top", {"by": "nope"}, "group_by"),
    ]
    with sqlite_contrail.client() as client:
        for path, params, field in cases:
            response = client.get(path, params=params)
            assert response.status_code == 422, (params, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_parameters"
            assert error["details"][0]["loc"] == ["query", field], params
        # auto picks a coarse enough bucket for the same enormous range instead of refusing
        auto = client.get(
            "/api/v1/metrics/observations",
            params={"from_time": "2020-01-01T00:00:00Z", "to_time": "2026-01-01T00:00:00Z", "bucket": "auto"},
        )
    assert auto.status_code == 200
    assert auto.json()["data"] == []
