"""Hostile and malformed input: each gets a clear 4xx (or a partial_success entry) and nothing breaks."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from contrail.store.projects import revoke_key
from tests.conftest import LiveContrail, start_contrail

NOW_NS = time.time_ns()


def _protobuf(*spans: dict[str, object]) -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for fields in spans:
        span = scope.spans.add()
        span.trace_id = bytes.fromhex(str(fields.get("trace", "ab" * 16)))
        span.span_id = bytes.fromhex(str(fields["span"]))
        span.name = str(fields.get("name", "op"))
        span.start_time_unix_nano = int(fields.get("start", NOW_NS))  # type: ignore[call-overload]
        span.end_time_unix_nano = int(fields.get("end", NOW_NS + 1000))  # type: ignore[call-overload]
        for key, value in dict(fields.get("attributes", {})).items():  # type: ignore[call-overload]
            span.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    return request.SerializeToString()


def _post_protobuf(client: httpx.Client, body: bytes) -> httpx.Response:
    return client.post("/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"})


def test_span_level_problems_become_partial_success(sqlite_contrail: LiveContrail) -> None:
    day_ns = 86_400 * 10**9
    body = _protobuf(
        {"span": "01" * 8, "attributes": {"big": "x" * (10 * 1024 * 1024)}},
        {"span": "02" * 8, "start": NOW_NS + 30 * day_ns, "end": NOW_NS + 30 * day_ns},
        {"span": "03" * 8, "start": 10**9, "end": 2 * 10**9},  # 1970
        {"span": "04" * 8, "start": NOW_NS, "end": NOW_NS - 10**9},  # ends before it starts
    )
    with sqlite_contrail.client() as client:
        response = _post_protobuf(client, body)
        stored = client.get(f"/api/v1/traces/{'ab' * 16}").json()
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert response.status_code == 200
    assert answer.partial_success.rejected_spans == 3
    assert stored["observation_count"] == 1
    big = stored["observations"][0]["metadata"]["attributes"]["big"]
    assert len(big) < 300 * 1024
    assert "truncated by contrail" in big


def test_invalid_utf8_in_protobuf_is_a_clear_400(sqlite_contrail: LiveContrail) -> None:
    body = _protobuf({"span": "05" * 8, "name": "PLACEHOLDER"}).replace(b"PLACEHOLDER", b"\xff\xfe\xfdPLACEH")
    with sqlite_contrail.client() as client:
        response = _post_protobuf(client, body)
        after = _post_protobuf(client, _protobuf({"span": "06" * 8}))
    assert response.status_code == 400
    assert after.status_code == 200


def test_sql_and_fts_syntax_in_filters_are_plain_text(contrail: LiveContrail) -> None:
    event = {
        "id": "e",
        "type": "observation",
        "body": {
            "trace_id": "f" * 32,
            "span_id": "f" * 16,
            "name": "robert'); DROP TABLE traces;--",
            "start_us": 1_760_000_000_000_000,
            "input": 'NEAR("quoted" OR * AND) ^col: text',
            "user_id": "o'brien",
        },
    }
    hostile = ["'; DROP TABLE traces; --", '" OR 1=1 --', "NEAR(a b", "*", 'col:"x" AND', "%_\\"]
    with contrail.client() as client:
        client.post("/api/v1/ingest", json={"batch": [event]})
        for value in hostile:
            for params in ({"name": value}, {"user_id": value}, {"tag": value}, {"metadata": f"k={value}"}):
                response = client.get("/api/v1/traces", params=params)
                assert response.status_code == 200, (params, response.text)
                assert response.json()["data"] == []
            # Full-text: operators are plain words (so "DROP TABLE" finds the span named so), never syntax.
            assert client.get("/api/v1/traces", params={"q": value}).status_code == 200
            assert client.get("/api/v1/observations", params={"q": value}).status_code == 200
        dropped = client.get("/api/v1/traces", params={"q": "'; DROP TABLE traces; --"}).json()["data"]
        nul = client.get("/api/v1/traces", params={"name": "a\x00b"})
        nul_path = client.get("/api/v1/sessions/a%00b")
        by_user = client.get("/api/v1/traces", params={"user_id": "o'brien"}).json()["data"]
        by_text = client.get("/api/v1/traces", params={"q": 'NEAR("quoted"'}).json()["data"]
    assert nul.status_code == 400 and nul.json()["error"]["code"] == "bad_request"
    assert nul_path.status_code == 400
    assert len(by_user) == 1
    assert len(by_text) == 1  # the words still match, as words
    assert [t["name"] for t in dropped] == ["robert'); DROP TABLE traces;--"]  # and the table is still there


def test_bad_query_parameters_get_422_with_the_envelope(sqlite_contrail: LiveContrail) -> None:
    cases = [
        {"from_time": "yesterday"},
        {"cursor": "not-a-cursor"},
        {"metadata": "no-equals-sign"},
        {"metadata": 'bad"key=1'},
        {"min_cost": "lots"},
        {"limit": "100000"},
        {"sort": "random"},
    ]
    with sqlite_contrail.client() as client:
        for params in cases:
            response = client.get("/api/v1/traces", params=params)
            assert response.status_code == 422, (params, response.text)
            assert response.json()["error"]["code"] in ("invalid_parameters", "invalid_cursor")
        missing = client.get(f"/api/v1/traces/{'0' * 32}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_revoked_keys_are_refused(database_url: str, tmp_path: Path) -> None:
    server, live = start_contrail(database_url, tmp_path, key_cache_seconds=0)
    try:
        with live.client() as client:
            assert client.get("/api/v1/whoami").status_code == 200
            engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
            revoke_key(engine, live.project_id, live.public_key)
            refused = client.get("/api/v1/whoami")
    finally:
        server.stop()
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    server, live = start_contrail(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, max_request_bytes=4096)
    try:
        with live.client() as client:
            response = client.post(
                "/api/v1/ingest",
                content=b"{" + b" " * 10_000 + b"}",
                headers={"Content-Type": "application/json"},
            )
    finally:
        server.stop()
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_full_write_queue_answers_503_with_retry_after_then_recovers(tmp_path: Path) -> None:
    database = tmp_path / "c.db"
    server, live = start_contrail(f"sqlite:///{database}", tmp_path, write_queue_spans=100)
    blocker = sqlite3.connect(database, timeout=1, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # hold the write lock: the writer waits, the queue fills
    results: list[int] = []

    def send(n: int) -> None:
        event = {
            "id": str(n),
            "type": "observation",
            "body": {
                "trace_id": uuid.uuid4().hex,
                "span_id": "a" * 16,
                "name": "q",
                "start_us": 1_760_000_000_000_000,
            },
        }
        with live.client() as client:
            results.append(client.post("/api/v1/ingest", json={"batch": [event] * 60}).status_code)

    try:
        first = threading.Thread(target=send, args=(0,))
        first.start()
        deadline = time.monotonic() + 10
        while live.app.state.contrail.writes.pending_spans == 0 and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.01)
        with live.client() as client:
            event = {
                "id": "x",
                "type": "observation",
                "body": {
                    "trace_id": "1" * 32,
                    "span_id": "b" * 16,
                    "name": "q",
                    "start_us": 1_760_000_000_000_000,
                },
            }
            overloaded = client.post("/api/v1/ingest", json={"batch": [event] * 60})
        blocker.execute("ROLLBACK")
        first.join(timeout=30)
    finally:
        blocker.close()
        server.stop()
    assert overloaded.status_code == 503
    assert int(overloaded.headers["Retry-After"]) >= 1
    assert results == [207]  # the queued request still committed once the lock was released
