"""/api/v1/budgets, /webhooks and /alerts on a live server: bad input, project scoping, end to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from contrail.server import webhooks
from contrail.store.projects import create_key, create_project
from tests.analytics.test_webhooks import Receiver
from tests.conftest import LiveContrail, start_contrail


def _other_client(live: LiveContrail) -> httpx.Client:
    engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
    issued = create_key(engine, create_project(engine, f"other-{time.monotonic_ns()}").id)
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {issued.secret_key}"})


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    code: str = response.json()["error"]["code"]
    return code


@pytest.mark.parametrize(
    "amount", [-5, 0, "abc", "NaN", "-Infinity", "1e30", True, None, [1], {"usd": 1}, "0.0000000001"]
)
def test_bad_budget_amounts_are_422(sqlite_contrail: LiveContrail, amount: object) -> None:
    with sqlite_contrail.client() as client:
        assert (
            _error(client.put("/api/v1/budgets/daily", json={"amount_usd": amount}), 422) == "invalid_budget"
        )
        assert client.get("/api/v1/budgets").json()["data"] == []


def test_budget_endpoints_and_scoping(contrail: LiveContrail) -> None:
    with contrail.client() as client, _other_client(contrail) as other:
        assert _error(client.put("/api/v1/budgets/weekly", json={"amount_usd": "5"}), 422) == "invalid_budget"
        assert _error(client.put("/api/v1/budgets/daily", json={}), 422) == "invalid_parameters"
        assert _error(
            client.put("/api/v1/budgets/daily", content=b"{", headers={"content-type": "application/json"}),
            422,
        )
        put = client.put("/api/v1/budgets/daily", json={"amount_usd": "25.50"})
        assert put.status_code == 200 and put.json()["amount_usd"] == "25.5"
        [daily] = client.get("/api/v1/budgets").json()["data"]
        assert (daily["period"], daily["amount_usd"], daily["spend_usd"], daily["level"]) == (
            "daily",
            "25.5",
            "0",
            "ok",
        )
        assert other.get("/api/v1/budgets").json()["data"] == []
        assert _error(other.delete("/api/v1/budgets/daily"), 404) == "not_found"
        assert client.delete("/api/v1/budgets/daily").status_code == 204
        assert _error(client.delete("/api/v1/budgets/daily"), 404) == "not_found"
        assert _error(client.delete("/api/v1/budgets/yearly"), 422) == "invalid_budget"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "not a url",
        "http://",
        "https:///path",
        "javascript:alert(1)",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "",
        "http://example.com/" + "a" * 2000,
    ],
)
def test_invalid_webhook_urls_are_422(sqlite_contrail: LiveContrail, url: str) -> None:
    with sqlite_contrail.client() as client:
        assert _error(client.post("/api/v1/webhooks", json={"url": url}), 422) in (
            "invalid_webhook",
            "invalid_parameters",
        )
        assert client.get("/api/v1/webhooks").json()["data"] == []


def test_private_addresses_can_be_forbidden(tmp_path: Path) -> None:
    server, live = start_contrail(
        f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "home", webhook_allow_private=False
    )
    try:
        with live.client() as client:
            for url in (
                "http://127.0.0.1:8080/hook",
                "http://10.1.2.3/",
                "http://[::1]/",
                "http://169.254.169.254/",
            ):
                response = client.post("/api/v1/webhooks", json={"url": url})
                assert _error(response, 422) == "invalid_webhook"
                assert "private or local address" in response.json()["error"]["message"]
    finally:
        server.stop()


def test_webhook_secret_is_shown_once_and_ids_are_scoped(contrail: LiveContrail) -> None:
    with contrail.client() as client, _other_client(contrail) as other:
        created = client.post("/api/v1/webhooks", json={"url": "https://example.com/hook"})
        assert created.status_code == 201
        hook = created.json()
        assert hook["secret"].startswith(hook["secret_hint"].rstrip("…"))
        listed = client.get("/api/v1/webhooks")
        assert [w["id"] for w in listed.json()["data"]] == [hook["id"]]
        assert hook["secret"] not in listed.text
        assert other.get("/api/v1/webhooks").json()["data"] == []
        for response in (
            other.delete(f"/api/v1/webhooks/{hook['id']}"),
            other.post(f"/api/v1/webhooks/{hook['id']}/test"),
            client.delete("/api/v1/webhooks/no-such-id"),
            client.post("/api/v1/webhooks/no-such-id/test"),
        ):
            assert _error(response, 404) == "not_found"
        assert client.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
        assert client.get("/api/v1/webhooks").json()["data"] == []


def test_alert_settings_and_listing_reject_bad_input(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        assert client.get("/api/v1/alerts/settings").json() == {
            "factor": 3.0,
            "min_tokens": 10000,
            "min_cost_usd": "1",
        }
        for body in ({"factor": 0.5}, {"factor": "x"}, {"min_tokens": -1}, {"min_cost_usd": "NaN"}):
            assert _error(client.put("/api/v1/alerts/settings", json=body), 422) == "invalid_settings"
        put = client.put(
            "/api/v1/alerts/settings", json={"factor": 5, "min_tokens": 0, "min_cost_usd": "0.25"}
        )
        assert put.json() == {"factor": 5.0, "min_tokens": 0, "min_cost_usd": "0.25"}
        assert _error(client.get("/api/v1/alerts", params={"kind": "nope"}), 422) == "invalid_parameters"
        assert _error(client.get("/api/v1/alerts", params={"limit": 0}), 422) == "invalid_parameters"


@pytest.fixture
def flaky_receiver() -> Iterator[Receiver]:
    made = Receiver([500, 500, 200])
    yield made
    made.close()


def _wait_for(client: httpx.Client, kind: str, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = client.get("/api/v1/alerts", params={"kind": kind}).json()["data"]
        if events and events[0]["deliveries"] and events[0]["deliveries"][0]["status"] == status:
            return events[0]  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"no {kind} event reached {status}: {events}")


def test_budget_crossed_reaches_a_flaky_receiver_signed(
    database_url: str, tmp_path: Path, flaky_receiver: Receiver
) -> None:
    server, live = start_contrail(
        database_url, tmp_path / "home", alert_check_seconds=0.1, webhook_retry_base_seconds=0.05
    )
    try:
        with live.client() as client:
            secret = client.post("/api/v1/webhooks", json={"url": flaky_receiver.url}).json()["secret"]
            assert client.put("/api/v1/budgets/daily", json={"amount_usd": "1"}).status_code == 200
            now = time.time_ns() // 1000
            event = {
                "id": "e1",
                "type": "observation",
                "body": {
                    "trace_id": "a" * 32,
                    "span_id": "b" * 16,
                    "name": "chat",
                    "type": "generation",
                    "start_us": now,
                    "end_us": now + 1000,
                    "model_requested": "gpt-4o",
                    "cost_usd": "2.5",
                },
            }
            assert client.post("/api/v1/ingest", json={"batch": [event]}).status_code in (200, 207)
            crossed = _wait_for(client, "budget_crossed", "delivered")
            [delivery] = crossed["deliveries"]  # type: ignore[misc]
            assert (delivery["attempts"], delivery["response_code"]) == (3, 200)
            assert crossed["details"]["spend_usd"] == "2.5"  # type: ignore[index]
            [daily] = client.get("/api/v1/budgets").json()["data"]
            assert daily["level"] == "crossed"
            webhook_id = client.get("/api/v1/webhooks").json()["data"][0]["id"]
            assert client.post(f"/api/v1/webhooks/{webhook_id}/test").status_code == 202
            _wait_for(client, "test", "delivered")
        kinds = []
        for headers, body in flaky_receiver.requests:
            assert webhooks.verify(secret, headers["contrail-signature"], body, now_s=int(time.time()))
            kinds.append(orjson.loads(body)["kind"])
        assert kinds == ["budget_crossed"] * 3 + ["test"]
    finally:
        server.stop()
