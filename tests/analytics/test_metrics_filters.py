"""Filters on the trace-level metrics (summary, segments, users, scores), grouping by tag, scores
grouped by a property of their trace, and slowest prompts: the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.analytics.test_metrics import START, _event, _seed
from tests.analytics.test_metrics_rollups import _start
from tests.conftest import LiveContrail


def _score(i: int, trace: int, name: str, value: object, **fields: object) -> dict[str, object]:
    body = {"id": f"sc-{i}", "trace_id": f"{trace + 1:032x}", "name": name, "value": value}
    return {"id": f"s{i}", "type": "score", "body": body | {"timestamp_us": START + i} | fields}


def _seed_all(client: httpx.Client) -> None:
    """test_metrics._seed (traces 0-5 gpt-4o u1/u2 region us, 6-9 claude-x u2 eu), plus in each trace
    i a span of i+1 ms tagged all + even/odd, and quality scores on traces 0-3 and 6."""
    _seed(client)
    extra = [
        _event(
            20 + i,
            _start(i),
            i + 1,
            trace_id=f"{i + 1:032x}",
            tags=["all", "even" if i % 2 == 0 else "odd"],
            trace={"metadata": {"region": "us" if i < 6 else "eu"}},
        )
        for i in range(10)
    ]
    scores = [_score(i, t, "quality", v) for i, (t, v) in enumerate([(0, 0.0), (1, 0.5), (2, 1.0), (3, 1.0)])]
    scores += [
        _score(4, 6, "quality", 0.2),
        _score(5, 0, "verdict", "good", data_type="CATEGORICAL"),
    ]
    response = client.post("/api/v1/ingest", json={"batch": extra + scores})
    assert response.json()["errors"] == [], response.text


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(f"/api/v1/metrics/{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _scores(client: httpx.Client, **params: Any) -> dict[tuple[Any, str], tuple[int, float | None]]:
    return {(r["group"], r["name"]): (r["count"], r["mean"]) for r in _get(client, "scores", **params)}


def test_trace_metrics_honour_every_filter(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed_all(client)
        everything = _get(client, "summary", precision="exact")
        rolled_up = _get(client, "summary")
        u1 = _get(client, "summary", user_id="u1")
        odd = _get(client, "summary", tag="odd")
        eu = _get(client, "summary", metadata="region=eu")
        claude_segments = _get(client, "segments", by="user_id", model="claude-x")
        region_segments = _get(client, "segments", by="metadata:region", error="true")
        even_users = _get(client, "users", tag="even")
        costly_users = _get(client, "users", min_cost="0.002")
        u2_scores = _scores(client, user_id="u2")
        us_scores = _scores(client, metadata="region=us", name="chat")
    # trace durations 10..60 ms (gpt-4o) and 100..400 ms (claude-x): nearest rank
    assert everything["latency_ms"] == {"p50": 50.0, "p90": 300.0, "p95": 400.0, "p99": 400.0}
    assert (everything["traces"], everything["cost_per_trace_usd"]) == (10, "0.0016")
    # Unfiltered, the trace rollups answer: the same counts and cost, each percentile the bin holding it.
    assert everything["source"] == "exact" and rolled_up["source"] == "rollups"
    assert {k: v for k, v in rolled_up.items() if k not in ("latency_ms", "source")} == {
        k: v for k, v in everything.items() if k not in ("latency_ms", "source")
    }
    for p, exact in everything["latency_ms"].items():
        assert abs(rolled_up["latency_ms"][p] - exact) <= 0.122 * exact
    assert (u1["traces"], u1["users"], u1["cost_usd"]) == (4, 1, "0.004")
    assert u1["latency_ms"] == {"p50": 20.0, "p90": 40.0, "p95": 40.0, "p99": 40.0}
    # odd traces 1, 3, 5, 7, 9: 20, 40, 60, 200, 400 ms; u1 twice, u2 three times
    assert (odd["traces"], odd["users"], odd["cost_usd"], odd["cost_per_user_usd"]) == (
        5,
        2,
        "0.008",
        "0.004",
    )
    assert odd["latency_ms"]["p50"] == 60.0
    assert (eu["traces"], eu["cost_usd"], eu["latency_ms"]["p50"]) == (4, "0.01", 200.0)
    assert [(s["group"], s["traces"], s["latency_ms"]["p50"]) for s in claude_segments] == [("u2", 4, 200.0)]
    assert [(s["group"], s["traces"]) for s in region_segments] == [("us", 1)]  # the one error, trace 2
    assert [(u["user_id"], u["traces"], u["cost_usd"]) for u in even_users] == [
        ("u2", 3, "0.006"),
        ("u1", 2, "0.002"),
    ]
    assert [u["user_id"] for u in costly_users] == ["u2"]  # only claude-x traces cost 0.0025 each
    assert u2_scores == {(None, "quality"): (1, 0.2)}
    assert us_scores == {(None, "quality"): (4, 0.625), (None, "verdict"): (1, None)}


def test_scores_grouped_by_a_property_of_their_trace(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed_all(client)
        by_user = _scores(client, group_by="user_id")
        by_tag = _scores(client, group_by="tag")
        by_model = _scores(client, group_by="model")
        by_region = _scores(client, group_by="metadata:region")
        verdicts = [r for r in _get(client, "scores", group_by="user_id") if r["name"] == "verdict"]
    assert by_user == {
        ("u1", "quality"): (4, 0.625),
        ("u1", "verdict"): (1, None),
        ("u2", "quality"): (1, 0.2),
    }
    assert by_tag == {
        ("all", "quality"): (5, 0.54),
        ("all", "verdict"): (1, None),
        ("even", "quality"): (3, 0.4),
        ("even", "verdict"): (1, None),
        ("odd", "quality"): (2, 0.75),
    }
    assert by_model == {
        ("claude-x", "quality"): (1, 0.2),
        ("gpt-4o", "quality"): (4, 0.625),
        ("gpt-4o", "verdict"): (1, None),
    }
    assert by_region == {
        ("eu", "quality"): (1, 0.2),
        ("us", "quality"): (4, 0.625),
        ("us", "verdict"): (1, None),
    }
    assert verdicts[0]["distribution"] == [{"label": "good", "count": 1}]


def test_observations_grouped_by_tag_and_slowest_prompts(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed_all(client)
        by_tag = {r["group"]: r for r in _get(client, "observations", group_by="tag")}
        odd_hours = _get(client, "observations", group_by="tag", tag="odd", bucket="hour")
        slowest_tags = _get(client, "top", by="tag", metric="latency", n=2)
        slowest_prompts = _get(client, "top", by="prompt", metric="latency")
    # only the tagged spans (1..10 ms) count; each under every one of its tags
    assert {g: r["count"] for g, r in by_tag.items()} == {"all": 10, "even": 5, "odd": 5}
    assert by_tag["all"]["latency_ms"] == {"p50": 5.0, "p90": 9.0, "p95": 10.0, "p99": 10.0}
    assert by_tag["even"]["latency_ms"] == {"p50": 5.0, "p90": 9.0, "p95": 9.0, "p99": 9.0}
    assert by_tag["odd"]["latency_ms"] == {"p50": 6.0, "p90": 10.0, "p95": 10.0, "p99": 10.0}
    # the odd filter keeps spans tagged odd, which are also tagged all: odd spans 2, 4, 6 ms at 08:xx
    assert [(r["group"], r["bucket_start"], r["count"]) for r in odd_hours] == [
        ("all", "2025-10-09T08:00:00Z", 3),
        ("all", "2025-10-09T09:00:00Z", 2),
        ("odd", "2025-10-09T08:00:00Z", 3),
        ("odd", "2025-10-09T09:00:00Z", 2),
    ]
    assert [(r["group"], r["value"]) for r in slowest_tags] == [("odd", 6.0), ("all", 5.5)]
    assert [(r["group"], r["value"], r["count"]) for r in slowest_prompts] == [("greet@2", 250.0, 4)]


def test_bad_groups_and_filters_are_422(sqlite_contrail: LiveContrail) -> None:
    cases = [
        ("scores", {"group_by": "colour"}, "group_by"),
        ("scores", {"group_by": "metadata:a'b"}, "group_by"),
        ("scores", {"metadata": "no-equals"}, "metadata"),
        ("users", {"min_cost": "-1"}, "min_cost"),
        ("summary", {"from_time": "yesterday"}, "from_time"),
        ("segments", {"to_time": "2026-01-01T00:00:00Z", "from_time": "2026-01-01T00:00:00Z"}, "from_time"),
        ("users", {"from_time": "1900-01-01T00:00:00Z", "to_time": "2026-01-01T00:00:00Z"}, "to_time"),
        ("observations", {"group_by": "tags"}, "group_by"),
    ]
    with sqlite_contrail.client() as client:
        for path, params, field in cases:
            response = client.get(f"/api/v1/metrics/{path}", params=params)
            assert response.status_code == 422, (path, params, response.text)
            error = response.json()["error"]
            assert (error["code"], error["details"][0]["loc"]) == ("invalid_parameters", ["query", field])


def test_unknown_models_and_bad_token_counts_never_cost_zero(sqlite_contrail: LiveContrail) -> None:
    hour = "2025-10-09T08:00:00Z"
    batch = [
        _event(
            0, START, 10, model_requested="mystery-model-9000", usage={"input_tokens": 10, "output_tokens": 5}
        ),
        _event(1, START + 1, 10, model_requested="gpt-4o", usage={"input_tokens": -5, "output_tokens": 5}),
        _event(
            2, START + 2, 10, model_requested="gpt-4o", usage={"input_tokens": 10**15, "output_tokens": 1}
        ),
    ]
    with sqlite_contrail.client() as client:
        response = client.post("/api/v1/ingest", json={"batch": batch})
        assert response.status_code == 207
        exact = {r["group"]: r for r in _get(client, "observations", group_by="model", precision="exact")}
        rolled = {r["group"]: r for r in _get(client, "observations", group_by="model", from_time=hour)}
        top = _get(client, "top", by="model", metric="cost")
    for rows in (exact, rolled):
        assert rows["mystery-model-9000"]["cost_usd"] is None  # unpriced: unknown, not free
        assert rows["gpt-4o"]["cost_usd"] is None  # invalid counts are not priced either
    assert rolled["mystery-model-9000"]["source"] == "rollups"
    assert top == []  # nothing priced, nothing to rank


def test_absurd_token_counts_are_not_summed(sqlite_contrail: LiveContrail) -> None:
    batch = [
        _event(0, START, 10, model_requested="gpt-4o", usage={"input_tokens": 10**15, "output_tokens": 1})
    ]
    with sqlite_contrail.client() as client:
        assert client.post("/api/v1/ingest", json={"batch": batch}).status_code == 207
        row = _get(client, "observations", precision="exact")[0]
    assert row["input_tokens"] is None or row["input_tokens"] < 10**15
