"""Webhook delivery against a real HTTP receiver on 127.0.0.1: signatures, retries, give-up, restarts."""

from __future__ import annotations

import http.server
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, select

from contrail.server import alerts, webhooks
from contrail.store.alert_tables import webhook_deliveries
from contrail.store.database import open_engine
from contrail.store.migrate import upgrade
from contrail.store.projects import create_key, create_project
from tests.analytics.test_budgets import engine_fixture, in_parallel  # noqa: F401 - the fixture
from tests.conftest import start_contrail

T0 = 1_780_000_000_000_000


class Receiver:
    """A real HTTP server answering each POST with the next scripted status (the last one repeats)."""

    def __init__(self, statuses: list[int], hold: threading.Event | None = None) -> None:
        self.statuses = list(statuses)
        self.hold = hold
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if receiver.hold is not None:
                    receiver.hold.wait(10)
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver([200])
    yield made
    made.close()


def _project(engine: Engine) -> str:
    return create_project(engine, f"hooks-{uuid.uuid4().hex[:10]}").id


def _event(engine: Engine, project_id: str, at_us: int = T0) -> str:
    event_id = alerts.record_event(
        engine, project_id, "budget_crossed", uuid.uuid4().hex, {"spend_usd": "12.5"}, at_us=at_us
    )
    assert event_id is not None
    return event_id


def _delivery(engine: Engine, event_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            select(webhook_deliveries).where(webhook_deliveries.c.event_id == event_id)
        ).one()


POLICY = webhooks.DeliveryPolicy(max_attempts=3, retry_base_seconds=10, timeout_seconds=5)


def test_payload_is_signed_and_the_signature_verifies(engine: Engine, receiver: Receiver) -> None:
    project_id = _project(engine)
    issued = webhooks.create_webhook(engine, project_id, receiver.url, allow_private=True)
    event_id = _event(engine, project_id)
    with httpx.Client() as client:
        assert webhooks.deliver_due(engine, client, POLICY, T0) == 1
    headers, body = receiver.requests[0]
    document = orjson.loads(body)
    assert document["id"] == event_id and document["kind"] == "budget_crossed"
    assert document["project"]["id"] == project_id
    assert document["details"] == {"spend_usd": "12.5"}
    assert document["url"].endswith(f"/settings/alerts?project={project_id}")
    signature = headers["contrail-signature"]
    assert signature.startswith(f"t={T0 // 1_000_000},v1=")
    assert webhooks.verify(issued.secret, signature, body, now_s=T0 // 1_000_000)
    assert not webhooks.verify(issued.secret, signature, body + b" ", now_s=T0 // 1_000_000)
    assert not webhooks.verify("whsec_other", signature, body, now_s=T0 // 1_000_000)
    assert not webhooks.verify(issued.secret, signature, body, now_s=T0 // 1_000_000 + 3600)  # replayed late
    assert headers["contrail-event"] == "budget_crossed"
    row = _delivery(engine, event_id)
    assert (row.status, row.attempts, row.response_code) == ("delivered", 1, 200)


def test_retries_after_500s_with_backoff_then_succeeds(engine: Engine) -> None:
    receiver = Receiver([500, 502, 200])
    try:
        project_id = _project(engine)
        webhooks.create_webhook(engine, project_id, receiver.url, allow_private=True)
        event_id = _event(engine, project_id)
        with httpx.Client() as client:
            assert webhooks.deliver_due(engine, client, POLICY, T0) == 1
            first = _delivery(engine, event_id)
            assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 500")
            assert first.next_attempt_us == T0 + 10_000_000
            assert webhooks.deliver_due(engine, client, POLICY, T0 + 9_000_000) == 0  # not due yet
            assert webhooks.deliver_due(engine, client, POLICY, T0 + 10_000_000) == 1
            assert _delivery(engine, event_id).next_attempt_us == T0 + 30_000_000  # doubled
            assert webhooks.deliver_due(engine, client, POLICY, T0 + 30_000_000) == 1
        done = _delivery(engine, event_id)
        assert (done.status, done.attempts, done.response_code, done.last_error) == (
            "delivered",
            3,
            200,
            None,
        )
        assert len(receiver.requests) == 3
        assert len({body for _, body in receiver.requests}) == 1  # the same event each time
    finally:
        receiver.close()


def test_gives_up_after_max_attempts_and_records_it(engine: Engine) -> None:
    receiver = Receiver([503])
    try:
        project_id = _project(engine)
        webhooks.create_webhook(engine, project_id, receiver.url, allow_private=True)
        event_id = _event(engine, project_id)
        at = T0
        with httpx.Client() as client:
            for _ in range(5):
                webhooks.deliver_due(engine, client, POLICY, at)
                at += 3600 * 1_000_000
        row = _delivery(engine, event_id)
        assert (row.status, row.attempts, row.response_code, row.last_error) == ("failed", 3, 503, "HTTP 503")
        assert len(receiver.requests) == 3
        listed = alerts.list_events(engine, project_id)[0].deliveries[0]
        assert (listed.status, listed.attempts) == ("failed", 3)
    finally:
        receiver.close()


def test_timeouts_and_refused_connections_are_failures(engine: Engine) -> None:
    hold = threading.Event()
    slow = Receiver([200], hold=hold)
    try:
        project_id = _project(engine)
        webhooks.create_webhook(engine, project_id, slow.url, allow_private=True)
        closed = Receiver([200])
        closed.close()  # nothing listens there any more
        webhooks.create_webhook(engine, project_id, closed.url, allow_private=True)
        event_id = _event(engine, project_id)
        policy = webhooks.DeliveryPolicy(max_attempts=3, retry_base_seconds=10, timeout_seconds=0.3)
        with httpx.Client() as client:
            assert webhooks.deliver_due(engine, client, policy, T0) == 2
        errors = sorted(d.last_error or "" for d in alerts.list_events(engine, project_id)[0].deliveries)
        assert [e.split(":")[0] for e in errors] == ["ConnectError", "ReadTimeout"]
        assert all(d.status == "pending" for d in alerts.list_events(engine, project_id)[0].deliveries)
        assert _delivery_count(engine, event_id) == 2
    finally:
        slow.close()


def _delivery_count(engine: Engine, event_id: str) -> int:
    with engine.connect() as connection:
        return len(
            connection.execute(
                select(webhook_deliveries.c.id).where(webhook_deliveries.c.event_id == event_id)
            ).all()
        )


def test_concurrent_senders_send_each_attempt_once(engine: Engine, receiver: Receiver) -> None:
    project_id = _project(engine)
    webhooks.create_webhook(engine, project_id, receiver.url, allow_private=True)
    event_ids = [_event(engine, project_id) for _ in range(6)]

    def send(other: Engine) -> None:
        with httpx.Client() as client:
            webhooks.deliver_due(other, client, POLICY, T0)

    in_parallel(engine, 3, send)
    sent = sorted(orjson.loads(body)["id"] for _, body in receiver.requests)
    assert sent == sorted(event_ids)


def test_an_event_is_recorded_once_per_key(engine: Engine, receiver: Receiver) -> None:
    project_id = _project(engine)
    webhooks.create_webhook(engine, project_id, receiver.url, allow_private=True)
    first = alerts.record_event(engine, project_id, "spike", "k1", {}, at_us=T0)
    again = alerts.record_event(engine, project_id, "spike", "k1", {}, at_us=T0 + 1)
    assert first is not None and again is None
    assert _delivery_count(engine, first) == 1


def test_a_restarted_server_sends_pending_deliveries(database_url: str, tmp_path: Path) -> None:
    receiver = Receiver([200])
    engine = open_engine(database_url)
    try:
        upgrade(engine)
        project_id = _project(engine)
        create_key(engine, project_id)
        issued = webhooks.create_webhook(engine, project_id, receiver.url, allow_private=True)
        event_id = _event(engine, project_id, at_us=1)  # queued while no server was running
        server, _live = start_contrail(database_url, tmp_path / "home", alert_check_seconds=0.1)
        try:
            deadline = time.monotonic() + 20
            while _delivery(engine, event_id).status != "delivered" and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            server.stop()
        assert _delivery(engine, event_id).status == "delivered"
        headers, body = receiver.requests[0]
        assert orjson.loads(body)["id"] == event_id
        assert webhooks.verify(issued.secret, headers["contrail-signature"], body, now_s=int(time.time()))
    finally:
        receiver.close()
        engine.dispose()


def test_the_documented_verification_snippet_accepts_our_signature() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    body = b'{"kind":"test"}'
    header = webhooks.sign("whsec_doc", int(time.time()), body)
    assert namespace["verify"]("whsec_doc", header, body)
    assert not namespace["verify"]("whsec_doc", header, body + b"x")
    assert not namespace["verify"](
        "whsec_doc", webhooks.sign("whsec_doc", int(time.time()) - 3600, body), body
    )
