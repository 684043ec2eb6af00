"""POST /api/v1/ingest: per-event results, idempotency, and the rollup staying exact on re-sends."""

from __future__ import annotations

import gzip

import orjson

from tests.conftest import LiveContrail

TRACE = "c" * 32
START = 1_760_000_000_000_000


def _observation(span_id: str, parent: str | None = None, **fields: object) -> dict[str, object]:
    body = {
        "trace_id": TRACE,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": f"op-{span_id[:2]}",
        "start_us": START,
        "end_us": START + 5_000,
    } | fields
    return {"id": f"ev-{span_id}", "type": "observation", "body": body}


def test_batch_reports_each_event_and_stores_the_good_ones(contrail: LiveContrail) -> None:
    batch = [
        _observation(
            "1" * 16,
            type="agent",
            user_id="u1",
            session_id="s1",
            tags=["beta"],
            trace={"name": "support-chat", "metadata": {"tier": "gold"}},
        ),
        _observation(
            "2" * 16,
            "1" * 16,
            type="generation",
            model_requested="gpt-4o",
            usage={"input_tokens": 100, "output_tokens": 20},
            cost_usd="0.0012",
        ),
        _observation(
            "6" * 16,
            "1" * 16,
            type="generation",
            model_requested="my-private-model",
            usage={"input_tokens": 5, "output_tokens": 5},
        ),
        _observation("0" * 16),  # all-zero span id
        {"id": "ev-bad", "type": "observation", "body": {"trace_id": TRACE}},  # missing fields
        {"id": "ev-score", "type": "score", "body": {"trace_id": TRACE, "name": "helpful", "value": 0.8}},
    ]
    with contrail.client() as client:
        response = client.post("/api/v1/ingest", json={"batch": batch})
        trace = client.get(f"/api/v1/traces/{TRACE}").json()
        by_meta = client.get("/api/v1/traces", params={"metadata": "tier=gold", "tag": "beta"}).json()["data"]
    assert response.status_code == 207
    body = response.json()
    assert sorted(s["id"] for s in body["successes"]) == sorted(
        ["ev-" + "1" * 16, "ev-" + "2" * 16, "ev-" + "6" * 16, "ev-score"]
    )
    assert sorted(e["id"] for e in body["errors"]) == sorted(["ev-" + "0" * 16, "ev-bad"])
    assert all(e["status"] == 400 and e["message"] for e in body["errors"])
    assert trace["name"] == "support-chat"
    assert trace["total_tokens"] == 130
    assert trace["total_cost_usd"] == "0.0012"  # the client's cost is kept; ours is recorded beside it
    unpriced = next(o for o in trace["observations"] if o["model"] == "my-private-model")
    assert unpriced["cost_usd"]["total"] is None  # unknown model: no cost, never zero
    assert unpriced["metadata"]["contrail_cost"]["status"] == "unpriced"
    reported = next(o for o in trace["observations"] if o["model"] == "gpt-4o")
    assert reported["metadata"]["contrail_cost"]["reported_by"] == "client"
    assert [s["name"] for s in trace["scores"]] == ["helpful"]
    assert [t["trace_id"] for t in by_meta] == [TRACE]


def test_resending_is_idempotent_and_updates_replace(contrail: LiveContrail) -> None:
    first = _observation(
        "3" * 16, type="generation", usage={"input_tokens": 10, "output_tokens": 5}, level="error"
    )
    fixed = _observation("3" * 16, type="generation", usage={"input_tokens": 10, "output_tokens": 7})
    with contrail.client() as client:
        for batch in ([first], [first], [fixed]):
            assert client.post("/api/v1/ingest", json={"batch": batch}).status_code == 207
        trace = client.get(f"/api/v1/traces/{TRACE}").json()
        errored = client.get("/api/v1/traces", params={"error": "true"}).json()["data"]
    assert trace["observation_count"] == 1
    assert trace["total_tokens"] == 17
    assert trace["error_count"] == 0
    assert errored == []


def test_gzip_body_and_bad_bodies(sqlite_contrail: LiveContrail) -> None:
    payload = orjson.dumps({"batch": [_observation("4" * 16)]})
    with sqlite_contrail.client() as client:
        zipped = client.post(
            "/api/v1/ingest",
            content=gzip.compress(payload),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        not_json = client.post("/api/v1/ingest", content=b"{", headers={"Content-Type": "application/json"})
        not_batch = client.post("/api/v1/ingest", json=[1, 2])
        nul_and_deep = client.post(
            "/api/v1/ingest",
            json={"batch": [_observation("5" * 16, input={"a": "x\x00y"}, output=_nested(200))]},
        )
    assert zipped.status_code == 207 and len(zipped.json()["successes"]) == 1
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    assert not_batch.status_code == 400 and not_batch.json()["error"]["code"] == "invalid_batch"
    assert nul_and_deep.status_code == 207
    assert len(nul_and_deep.json()["successes"]) == 1


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"n": value}
    return value


def test_full_text_follows_updates_and_stays_in_its_project(contrail: LiveContrail) -> None:
    old = _observation("7" * 16, input="the walrus said hello")
    new = _observation("7" * 16, input="the narwhal said goodbye")
    with contrail.client() as client:
        client.post("/api/v1/ingest", json={"batch": [old]})
        assert len(client.get("/api/v1/traces", params={"q": "walrus"}).json()["data"]) == 1
        client.post("/api/v1/ingest", json={"batch": [new]})
        walrus = client.get("/api/v1/traces", params={"q": "walrus"}).json()["data"]
        narwhal = client.get("/api/v1/observations", params={"q": "narwhal goodbye"}).json()["data"]
    assert walrus == []
    assert [o["span_id"] for o in narwhal] == ["7" * 16]
