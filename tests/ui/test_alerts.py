"""Settings · Budgets & alerts in Chromium: budget banner, webhook with its secret once, test event,
hostile spike details escaped; roles enforced on the server."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
import pytest
from playwright.sync_api import expect

from contrail.schema.timeconv import now_us
from contrail.server import alerts, webhooks
from tests.analytics.test_budgets import spend_at
from tests.analytics.test_webhooks import Receiver
from tests.ui.conftest import Site, Watched, csrf_of, sign_in, signed_in_client

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def _until(page: object, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.reload()  # type: ignore[attr-defined]


@pytest.mark.browser
def test_budget_banner_webhook_and_test_event(watched: Watched, site: Site) -> None:
    receiver = Receiver([200])
    try:
        project_id = site.live.project_id
        spend_at(site.engine(), project_id, now_us(), "3")
        alerts.record_event(
            site.engine(),
            project_id,
            "spike",
            "hostile",
            {
                "hour": "2026-06-01T10:00:00Z",
                "name": HOSTILE,
                "model": HOSTILE,
                "metrics": ["tokens"],
                "tokens": 50_000,
                "cost_usd": "1",
                "median_tokens": 1000.0,
                "median_cost_usd": "0.1",
            },
            at_us=now_us(),
        )
        page = sign_in(watched, site, next_path="/settings/alerts")
        row = page.locator('tr[data-budget="daily"]')
        row.get_by_label("daily budget in USD").fill("2")
        row.get_by_role("button", name="Save").click()
        banner = page.locator(".budget-banner")
        _until(page, lambda: banner.count() > 0, "the budget banner")
        expect(banner).to_contain_text("Over budget")
        expect(banner).to_contain_text("daily budget of $2")
        page.goto(f"{site.url}/traces")
        expect(page.locator(".budget-banner")).to_be_visible()  # on every page

        page.goto(f"{site.url}/settings/alerts")
        spikes = page.locator("#spike-alerts")
        expect(spikes).to_contain_text(HOSTILE)  # shown as text, not markup
        assert spikes.locator("img, script").count() == 0
        page.get_by_label("Webhook URL").fill(receiver.url)
        page.get_by_role("button", name="Add webhook").click()
        secret = page.locator("#issued-webhook-secret").inner_text()
        assert secret.startswith("whsec_")
        page.goto(f"{site.url}/settings/alerts")
        assert secret not in page.content()
        page.get_by_role("button", name="Send test event").click()
        test_row = page.locator('tr[data-kind="test"]').first
        _until(page, lambda: "delivered" in test_row.inner_text(), "the test delivery")
        headers, body = receiver.requests[-1]
        assert orjson.loads(body)["kind"] == "test"
        assert webhooks.verify(secret, headers["contrail-signature"], body, now_s=int(time.time()))
        assert watched.dialogs == []  # no injected script ran
    finally:
        receiver.close()


def test_only_admins_change_budgets_and_webhooks(site: Site) -> None:
    with signed_in_client(site, "viewer") as viewer, signed_in_client(site, "member") as member:
        assert viewer.get("/settings/alerts").status_code == 200
        for client in (viewer, member):
            headers = {"X-CSRF-Token": csrf_of(client)}
            assert (
                client.post(
                    "/settings/alerts/budgets/daily", data={"amount_usd": "5"}, headers=headers
                ).status_code
                == 403
            )
            assert (
                client.post(
                    "/settings/alerts/webhooks", data={"url": "https://example.com/"}, headers=headers
                ).status_code
                == 403
            )
    with signed_in_client(site, "admin") as admin:
        headers = {"X-CSRF-Token": csrf_of(admin)}
        bad = admin.post("/settings/alerts/budgets/daily", data={"amount_usd": "-1"}, headers=headers)
        assert bad.status_code == 422 and "above zero" in bad.text
        bad = admin.post("/settings/alerts/webhooks", data={"url": "ftp://example.com/"}, headers=headers)
        assert bad.status_code == 422 and "http:// or https://" in bad.text
        bad = admin.post(
            "/settings/alerts/spike-settings",
            data={"factor": "nan", "min_tokens": "10", "min_cost_usd": "1"},
            headers=headers,
        )
        assert bad.status_code == 422 and "factor must be between" in bad.text
        assert admin.post("/settings/alerts/webhooks/nope/test", headers=headers).status_code == 404
        assert admin.post("/settings/alerts/webhooks/nope/delete", headers=headers).status_code == 404
        assert admin.post("/settings/alerts/budgets/weekly/delete", headers=headers).status_code == 404
