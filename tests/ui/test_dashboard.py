"""The Dashboard in Chromium: charts render with data, CSV exports the right rows, hostile values
stay text."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from contrail.store import accounts
from tests.conftest import start_contrail
from tests.ui.conftest import PASSWORD, SCREENSHOTS, Site, Watched, sign_in, signed_in_client

pytestmark = [pytest.mark.browser]

HOUR_US = 3_600_000_000
HOSTILE = '<img src=x onerror="alert(1)">'
MODELS = {"gpt-4o-mini": 12, "claude-3-5-sonnet": 6, HOSTILE: 2}


def _events(now_us: int) -> list[dict[str, Any]]:
    events, i = [], 0
    for model, count in MODELS.items():
        for k in range(count):
            start = now_us - (k * 7 + 1) * HOUR_US - 60_000_000
            body = {
                "trace_id": f"{i + 1:032x}",
                "span_id": f"{i + 1:016x}",
                "name": "chat",
                "type": "generation",
                "start_us": start,
                "end_us": start + (200 + 50 * k) * 1000,
                "model_requested": model,
                "usage": {"input_tokens": 1000, "output_tokens": 100},
                "cost_usd": "0.002",
                "ttft_us": 80_000,
                "user_id": f"user-{i % 3}" if model != HOSTILE else HOSTILE,
                "status": "error" if k == 0 else "ok",
                "trace": {"metadata": {"region": HOSTILE if model == HOSTILE else "eu"}},
            }
            events.append({"id": f"e{i}", "type": "observation", "body": body})
            i += 1
    return events


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("dashboard")
    server, live = start_contrail(f"sqlite:///{root / 'contrail.db'}", root / "home")
    try:
        engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
        user = accounts.create_user(engine, "viewer@example.com", PASSWORD)
        accounts.set_role(engine, user.id, live.project_id, "viewer")
        with live.client() as client:
            response = client.post("/api/v1/ingest", json={"batch": _events(int(time.time() * 1_000_000))})
            assert response.json()["errors"] == []
        yield Site(live, {"viewer": user.email})
    finally:
        server.stop()


def test_charts_render_with_data_and_hostile_values_stay_text(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, role="viewer", next_path="/dashboard?range=7d")
    for chart in ("traffic", "cost", "tokens", "latency", "ttft", "errors"):
        expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)
        assert int(page.locator(f"#chart-{chart}").get_attribute("data-rendered") or 0) > 0
    expect(page.locator("#table-models tbody tr")).to_have_count(3)
    expect(page.locator("#table-models")).to_contain_text(HOSTILE)
    expect(page.locator("#segments")).to_contain_text(HOSTILE)
    expect(page.locator("#projection")).to_contain_text("least-squares")
    expect(page.locator("#what-if")).to_contain_text("gpt-4o-mini")
    assert page.locator("img[src=x]").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    assert watched.dialogs == []
    assert watched.csp_violations() == []
    assert [m for m in watched.console if m.startswith(("error", "pageerror"))] == []


def _csv(client: Any, chart: str) -> list[dict[str, str]]:
    response = client.get("/dashboard.csv", params={"range": "7d", "chart": chart})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_csv_export_returns_the_charts_rows(site: Site) -> None:
    with signed_in_client(site, role="viewer") as client:
        models = {row["model"]: row for row in _csv(client, "models")}
        traffic = _csv(client, "traffic")
        cost = _csv(client, "cost")
        users = _csv(client, "users")
    assert {name.lstrip("'"): int(row["count"]) for name, row in models.items()} == MODELS
    assert models["gpt-4o-mini"]["errors"] == "1"
    assert models["gpt-4o-mini"]["cost_usd"] == "0.024"
    assert sum(int(row["count"]) for row in traffic) == sum(MODELS.values())
    assert sum(float(row["cost_usd"]) for row in cost) == pytest.approx(0.04)
    assert HOSTILE in {row["user_id"] for row in users}


def test_bad_range_and_chart_are_clear_errors(site: Site) -> None:
    with signed_in_client(site, role="viewer") as client:
        bad_range = client.get("/dashboard", params={"range": "forever"})
        bad_chart = client.get("/dashboard.csv", params={"chart": "pie"})
        bad_key = client.get("/dashboard", params={"segment": "a'b"})
    assert (bad_range.status_code, bad_chart.status_code, bad_key.status_code) == (422, 422, 422)
    assert "forever" in bad_range.text and "pie" in bad_chart.text


def test_filters_narrow_segments_tables_spikes_and_csv_downloads(watched: Watched, site: Site) -> None:
    page = sign_in(
        watched, site, role="viewer", next_path="/dashboard?range=7d&model=claude-3-5-sonnet&segment=region"
    )
    expect(page.locator("#table-models tbody tr")).to_have_count(1)
    expect(page.locator("#table-models")).to_contain_text("claude-3-5-sonnet")
    # latency by the region metadata key: only the six claude traces (region eu), not the hostile two
    region = page.locator('table[data-segment="region"] tbody tr')
    expect(region).to_have_count(1)
    expect(region.first).to_contain_text("eu")
    expect(region.first.locator("td").nth(1)).to_have_text("6")
    expect(page.locator("#table-users tbody tr")).to_have_count(3)
    expect(page.locator("#trace-latency")).to_contain_text("ms")
    expect(page.locator("#spike-alerts")).to_be_visible()  # the budgets helper's partial, loaded by htmx
    with page.expect_download() as download:
        page.locator('a[data-csv="traffic"]').click()
    rows = _downloaded(download.value)
    assert sum(int(row["count"]) for row in rows) == MODELS["claude-3-5-sonnet"]
    with page.expect_download() as download:
        page.locator('a[href*="chart=models"]').click()
    models = _downloaded(download.value)
    assert [(row["model"], row["count"]) for row in models] == [("claude-3-5-sonnet", "6")]
    assert [m for m in watched.console if m.startswith(("error", "pageerror"))] == []


def _downloaded(download: Any) -> list[dict[str, str]]:
    with open(download.path(), encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_bad_dashboard_input_is_a_clear_page(site: Site) -> None:
    with signed_in_client(site, role="viewer") as client:
        for params, needle in [
            ({"range": "100y"}, "100y"),
            ({"range": "-7d"}, "-7d"),
            ({"segment": ""}, "segment"),
            ({"chart": "../etc"}, "../etc"),
        ]:
            path = "/dashboard.csv" if "chart" in params else "/dashboard"
            response = client.get(path, params=params)
            assert response.status_code == 422, (params, response.text)
            assert needle in response.text
