"""Metrics answered from the rollups agree with exact queries; trace, segment and score metrics."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from contrail.analytics.catalogue import default_catalogue
from contrail.analytics.insights import project_cost, what_if
from contrail.analytics.metrics import MetricRow
from tests.analytics.test_metrics import HOUR_US, START, _event, _seed
from tests.conftest import LiveContrail

ALIGNED = {"from_time": "2025-10-09T08:00:00Z", "to_time": "2025-10-09T10:00:00Z"}
DAY_US = 24 * HOUR_US


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(f"/api/v1/metrics/{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_rollups_match_exact_counts_tokens_cost_and_approximate_percentiles(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed(client)
        for params in ({}, ALIGNED, {"group_by": "model", "bucket": "hour"}, {"group_by": "prompt"}):
            fast = _get(client, "observations", **params)
            exact = _get(client, "observations", precision="exact", **params)
            assert {r["source"] for r in fast} == {"rollups"}, params
            assert {r["source"] for r in exact} == {"exact"}
            assert len(fast) == len(exact)
            order = lambda r: (r["group"] or "", r["bucket_start"] or "")  # noqa: E731 (NULLs sort by dialect)
            for a, b in zip(sorted(fast, key=order), sorted(exact, key=order), strict=True):
                same = (
                    "group",
                    "bucket_start",
                    "count",
                    "error_count",
                    "input_tokens",
                    "total_tokens",
                    "cost_usd",
                )
                assert {k: a[k] for k in same} == {k: b[k] for k in same}
                for p, value in b["latency_ms"].items():
                    assert a["latency_ms"][p] == pytest.approx(value, rel=0.123)
        # a filter the rollups lack (user) or a ragged range falls back to exact
        assert {r["source"] for r in _get(client, "observations", user_id="u2")} == {"exact"}
        ragged = _get(client, "observations", from_time="2025-10-09T08:30:00Z")
        assert [(r["source"], r["count"]) for r in ragged] == [("exact", 4)]  # claude-x at 09:xx


def test_top_from_rollups_equals_exact_top(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed(client)
        slowest = client.get("/api/v1/metrics/top", params={"by": "model", "metric": "latency"}).json()[
            "data"
        ]
        cost = client.get("/api/v1/metrics/top", params={"by": "model", "metric": "cost", "n": 1}).json()[
            "data"
        ]
    assert slowest == [
        {"group": "claude-x", "value": 250.0, "count": 4},
        {"group": "gpt-4o", "value": 35.0, "count": 6},
    ]
    assert cost == [{"group": "claude-x", "value": "0.01", "count": 4}]


def test_refusals_are_counted_from_outputs(sqlite_contrail: LiveContrail) -> None:
    refused = [{"role": "assistant", "content": None, "refusal": "I can't help with that."}]
    filtered = [{"role": "assistant", "content": "", "finish_reason": "content_filter"}]
    fine = [{"role": "assistant", "content": "hi", "finish_reason": "stop"}]
    batch = [
        _event(i, START + i * 1_000_000, 10, model_requested="m", output=out)
        for i, out in enumerate([refused, filtered, fine, fine])
    ]
    with sqlite_contrail.client() as client:
        assert client.post("/api/v1/ingest", json={"batch": batch}).json()["errors"] == []
        (row,) = _get(client, "observations")
    assert (row["count"], row["refusal_count"]) == (4, 2)


def _start(i: int) -> int:
    """Start of the seeded trace i (see test_metrics._seed): a span added there keeps its duration."""
    return START + i * 60_000_000 if i < 6 else START + HOUR_US + (i - 6) * 60_000_000


def test_summary_segments_and_scores(contrail: LiveContrail) -> None:
    scores = [
        {
            "id": f"s{i}",
            "type": "score",
            "body": {
                "id": f"sc-{i}",
                "trace_id": f"{i + 1:032x}",
                "name": "quality",
                "value": v,
                "timestamp_us": START + i,
            },
        }
        for i, v in enumerate([0.0, 0.5, 1.0, 1.0])
    ] + [
        {
            "id": "c",
            "type": "score",
            "body": {
                "id": "sc-c",
                "trace_id": f"{1:032x}",
                "name": "verdict",
                "value": "good",
                "data_type": "CATEGORICAL",
                "timestamp_us": START,
            },
        }
    ]
    regions = [
        _event(20 + i, _start(i), 5, trace_id=f"{i + 1:032x}", trace={"metadata": {"region": r}})
        for i, r in enumerate(["us"] * 6 + ["eu"] * 4)
    ]
    with contrail.client() as client:
        _seed(client)
        response = client.post("/api/v1/ingest", json={"batch": scores + regions})
        assert response.json()["errors"] == [], response.text
        summary = _get(client, "summary", precision="exact")
        by_user = _get(client, "segments", by="user_id")
        by_region = _get(client, "segments", by="metadata:region", n=1)
        score_rows = {row["name"]: row for row in _get(client, "scores")}
    # ten traces (a 5 ms span added to each), two users: u1 4 x 0.001, u2 2 x 0.001 + 4 x 0.0025
    assert summary == {
        "traces": 10,
        "users": 2,
        "cost_usd": "0.016",
        "cost_per_trace_usd": "0.0016",
        "cost_per_user_usd": "0.008",
        "latency_ms": {"p50": 50.0, "p90": 300.0, "p95": 400.0, "p99": 400.0},
        "source": "exact",
    }
    assert [(s["group"], s["traces"], s["latency_ms"]["p50"]) for s in by_user] == [
        ("u2", 6, 100.0),
        ("u1", 4, 20.0),
    ]
    assert [(s["group"], s["traces"]) for s in by_region] == [("us", 6)]
    quality = score_rows["quality"]
    assert (quality["count"], quality["mean"], quality["minimum"], quality["maximum"]) == (4, 0.625, 0.0, 1.0)
    assert [b["count"] for b in quality["distribution"]] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert score_rows["verdict"]["distribution"] == [{"label": "good", "count": 1}]


def test_bad_ranges_segments_and_precision_are_422(sqlite_contrail: LiveContrail) -> None:
    cases = [
        ("observations", {"from_time": "2000-01-01T00:00:00Z", "to_time": "2026-01-01T00:00:00Z"}, "to_time"),
        ("observations", {"precision": "roughly"}, "precision"),
        ("summary", {"from_time": "2026-01-02T00:00:00Z", "to_time": "2026-01-01T00:00:00Z"}, "from_time"),
        ("summary", {"precision": "roughly"}, "precision"),
        ("segments", {"by": "metadata:region", "precision": "roughly"}, "precision"),
        ("segments", {"by": "metadata:a'b"}, "by"),
        ("segments", {"by": "model"}, "by"),
        ("scores", {"from_time": "1990-01-01T00:00:00Z", "to_time": "2026-01-01T00:00:00Z"}, "to_time"),
    ]
    with sqlite_contrail.client() as client:
        for path, params, field in cases:
            response = client.get(f"/api/v1/metrics/{path}", params=params)
            assert response.status_code == 422, (path, params, response.text)
            error = response.json()["error"]
            assert (error["code"], error["details"][0]["loc"]) == ("invalid_parameters", ["query", field])


def test_cost_projection_follows_the_daily_trend() -> None:
    growing = [(START + d * DAY_US, Decimal(10 + d)) for d in range(10)]  # +1 USD a day, 19 today
    projection = project_cost(growing)
    assert (projection.days_observed, projection.daily_now_usd, projection.slope_usd_per_day) == (
        10,
        Decimal("19.000000"),
        Decimal("1.000000"),
    )
    assert projection.next_30_days_usd == sum(Decimal(19 + k) for k in range(1, 31))
    shrinking = project_cost([(START, Decimal(3)), (START + DAY_US, Decimal(1))])
    assert shrinking.next_30_days_usd == Decimal(0)  # the line goes below zero at once
    assert project_cost([]).next_30_days_usd == 0


def test_what_if_prices_the_same_tokens_on_another_model() -> None:
    row = MetricRow("gpt-4o", None, 2, 0, 0.0, 2_000_000, 1_000_000, 0, 3_000_000, Decimal("15"), {}, {})
    rates = default_catalogue().match("gpt-4o-mini")
    assert rates is not None
    current = rates.entry.current().rates
    expected = (2 * current.input + current.output) if current.input and current.output else None
    result = what_if(default_catalogue(), "gpt-4o-mini", [row])
    assert (result.actual_usd, result.repriced_usd) == (Decimal("15"), expected)
    assert what_if(default_catalogue(), "no-such-model-xyz", [row]).repriced_usd is None
