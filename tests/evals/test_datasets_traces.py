"""Dataset items from production traces: by id and by filter, root input/output, provenance, no duplicates."""

from __future__ import annotations

import httpx

from tests.conftest import LiveContrail

START = 1_760_000_000_000_000


def _trace(n: int, tag: str) -> list[dict[str, object]]:
    trace_id = f"{n:032x}"
    root = {
        "trace_id": trace_id,
        "span_id": f"{n:016x}",
        "name": "answer",
        "start_us": START + n,
        "end_us": START + n + 10,
        "tags": [tag],
        "input": {"question": f"q{n}"},
        "output": f"a{n}",
    }
    child = {
        "trace_id": trace_id,
        "span_id": f"{n + 1000:016x}",
        "parent_span_id": f"{n:016x}",
        "name": "llm",
        "start_us": START + n + 1,
        "input": "inner",
        "output": "inner",
    }
    return [
        {"id": f"e{n}", "type": "observation", "body": root},
        {"id": f"c{n}", "type": "observation", "body": child},
    ]


def _seed(client: httpx.Client) -> None:
    events = _trace(1, "gold") + _trace(2, "gold") + _trace(3, "other")
    assert client.post("/api/v1/ingest", json={"batch": events}).status_code == 207
    assert client.post("/api/v1/datasets", json={"name": "prod"}).status_code == 201


def test_items_from_trace_ids_and_filters(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _seed(client)
        by_id = client.post(
            "/api/v1/datasets/prod/items/from-traces", json={"trace_ids": [f"{3:032x}"], "use": "root_span"}
        )
        by_filter = client.post("/api/v1/datasets/prod/items/from-traces", json={"filter": {"tag": ["gold"]}})
        again = client.post("/api/v1/datasets/prod/items/from-traces", json={"filter": {"tag": ["gold"]}})
        limited = client.post("/api/v1/datasets/prod/items/from-traces", json={"filter": {}, "limit": 1})
        items = client.get("/api/v1/datasets/prod/items").json()["data"]
    assert by_id.status_code == 200, by_id.text
    assert (by_id.json()["created"], by_filter.json()["created"]) == (1, 2)
    assert (again.json()["unchanged"], again.json()["created"], again.json()["version"]) == (2, 0, 2)
    assert (limited.json()["unchanged"], limited.json()["created"]) == (1, 0)
    by_source = {i["source_trace_id"]: i for i in items}
    assert by_source[f"{3:032x}"]["input"] == {"question": "q3"}
    assert by_source[f"{3:032x}"]["expected_output"] == "a3"
    assert by_source[f"{3:032x}"]["source_span_id"] == f"{3:016x}"
    assert by_source[f"{1:032x}"]["source_span_id"] is None
    assert len(items) == 3


def test_bad_from_traces_requests(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        _seed(client)
        path = "/api/v1/datasets/prod/items/from-traces"
        answers = {
            "unknown id": client.post(path, json={"trace_ids": [f"{1:032x}", "f" * 32]}),
            "neither": client.post(path, json={}),
            "both": client.post(path, json={"trace_ids": [f"{1:032x}"], "filter": {}}),
            "bad filter field": client.post(path, json={"filter": {"colour": "red"}}),
            "bad time": client.post(path, json={"filter": {"from_time": "yesterday"}}),
            "negative latency": client.post(path, json={"filter": {"min_latency_ms": -1}}),
            "limit too big": client.post(path, json={"filter": {}, "limit": 10_001}),
            "bad use": client.post(path, json={"trace_ids": [f"{1:032x}"], "use": "span"}),
        }
        missing_dataset = client.post("/api/v1/datasets/nope/items/from-traces", json={"filter": {}})
        items = client.get("/api/v1/datasets/prod/items").json()["data"]
    assert {k: r.status_code for k, r in answers.items()} == {k: 422 for k in answers}
    assert "f" * 32 in answers["unknown id"].json()["error"]["message"]
    assert missing_dataset.status_code == 404
    assert items == []
