"""Sessions and users: lists follow every write (new spans, re-sent spans, a session set late)."""

from __future__ import annotations

from tests.conftest import LiveContrail

START = 1_760_000_000_000_000


def _event(trace: str, span: str, **fields: object) -> dict[str, object]:
    body = {
        "trace_id": trace,
        "span_id": span,
        "name": "turn",
        "start_us": START,
        "end_us": START + 1000,
    } | fields
    return {"id": trace + span, "type": "observation", "body": body}


def test_session_and_user_rollups_follow_writes(contrail: LiveContrail) -> None:
    a, b, c = "a1" * 16, "b2" * 16, "c3" * 16
    first = [
        _event(a, "1" * 16, session_id="s-1", user_id="u-1", usage={"input_tokens": 10, "output_tokens": 0}),
        _event(
            b,
            "2" * 16,
            session_id="s-1",
            user_id="u-2",
            usage={"input_tokens": 5, "output_tokens": 0},
            level="error",
        ),
        _event(c, "3" * 16, usage={"input_tokens": 1, "output_tokens": 0}),  # no session or user yet
    ]
    later = [
        _event(a, "1" * 16, session_id="s-1", user_id="u-1", usage={"input_tokens": 20, "output_tokens": 0}),
        _event(
            c,
            "4" * 16,
            parent_span_id="3" * 16,
            session_id="s-2",
            user_id="u-1",
            start_us=START + 50_000,
            end_us=START + 60_000,
        ),
    ]
    with contrail.client() as client:
        client.post("/api/v1/ingest", json={"batch": first})
        client.post("/api/v1/ingest", json={"batch": later})
        sessions = {s["session_id"]: s for s in client.get("/api/v1/sessions").json()["data"]}
        users = {u["user_id"]: u for u in client.get("/api/v1/users").json()["data"]}
        of_u2 = client.get("/api/v1/sessions", params={"user_id": "u-2"}).json()["data"]
        page = client.get("/api/v1/users", params={"limit": 1}).json()
        rest = client.get("/api/v1/users", params={"limit": 1, "cursor": page["next_cursor"]}).json()

    assert sessions["s-1"]["trace_count"] == 2
    assert sessions["s-1"]["total_tokens"] == 25  # the re-sent span replaced 10 by 20
    assert sessions["s-1"]["error_count"] == 1
    assert sessions["s-1"]["user_count"] == 2
    assert sessions["s-2"]["trace_count"] == 1  # trace c joined a session with its second span
    assert sessions["s-2"]["total_tokens"] == 1
    assert next(iter(sessions)) == "s-2"  # most recently active first
    assert users["u-1"]["trace_count"] == 2
    assert users["u-1"]["total_tokens"] == 21
    assert users["u-1"]["session_count"] == 2
    assert users["u-2"]["error_count"] == 1
    assert [s["session_id"] for s in of_u2] == ["s-1"]
    assert [u["user_id"] for u in page["data"] + rest["data"]] == ["u-1", "u-2"]
