"""A 2,000-observation trace renders collapsed and stays usable; live tail brings in new traces."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from contrail.schema.timeconv import now_us
from tests.ui import seed
from tests.ui.conftest import Site, Watched, sign_in, signed_in_client

pytestmark = [pytest.mark.browser]

BIG_TRACE = "b1" * 16
BIG_SIZE = 2_000


def _big_trace_events() -> list[dict[str, object]]:
    start = now_us() - 60_000_000
    root = seed.span_id(1)
    events = [seed.observation(BIG_TRACE, root, "agent-run", start, 30_000, user_id="dora")]
    parents = []
    for step in range(40):
        span = seed.span_id(2 + step)
        parents.append(span)
        events.append(
            seed.observation(
                BIG_TRACE, span, f"step-{step}", start + step * 700_000, 650, parent_span_id=root
            )
        )
    for n in range(BIG_SIZE - len(events)):
        parent_index = n % len(parents)
        events.append(
            seed.observation(
                BIG_TRACE,
                seed.span_id(100 + n),
                f"call-{n}",
                start + parent_index * 700_000 + n,
                10 + n % 50,
                parent_span_id=parents[parent_index],
                type="generation" if n % 2 else "tool",
                model_requested="gpt-4o-mini",
            )
        )
    return events


@pytest.fixture(scope="module")
def big(site: Site) -> str:
    with site.live.client() as client:
        seed.ingest(client, _big_trace_events())
    return BIG_TRACE


def test_big_trace_renders_every_row_and_opens_collapsed(watched: Watched, site: Site, big: str) -> None:
    with signed_in_client(site) as client:
        html = client.get(f"/traces/{big}").text
    assert html.count('role="treeitem"') == BIG_SIZE
    page = sign_in(watched, site, next_path=f"/traces/{big}")
    rows = page.locator("#tree .row")
    expect(rows).to_have_count(BIG_SIZE)
    expect(page.locator("#tree .row:not([hidden])")).to_have_count(41)  # root and its steps
    page.locator(f'#tree .row[data-span="{seed.span_id(2 + 3)}"] button.tw').click()  # step-3
    expect(page.locator("#tree .row:not([hidden])")).to_have_count(41 + 49)
    page.get_by_role("button", name="Expand all").click()
    expect(page.locator("#tree .row:not([hidden])")).to_have_count(BIG_SIZE)
    last = BIG_SIZE - 41 - 1
    page.locator(f'#tree .row[data-span="{seed.span_id(100 + last)}"] a').click()
    expect(page.locator("#panel h2")).to_contain_text(f"call-{last}")
    assert watched.csp_violations() == []


def test_live_tail_shows_new_traces_without_a_reload(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path="/traces?range=24h")
    page.locator("#live-toggle").click()
    expect(page).to_have_url(re.compile(r"live=1"))
    expect(page.locator("#trace-results")).to_have_attribute("hx-trigger", "every 3s")
    marker = "arrived-while-watching"
    with httpx.Client(base_url=site.url, headers=site.live.headers) as api:
        seed.ingest(api, [seed.observation("a7" * 16, seed.span_id(7), marker, now_us(), 20)])
    expect(page.get_by_role("link", name=marker)).to_be_visible(timeout=15_000)
    page.locator("#live-toggle").click()
    expect(page).not_to_have_url(re.compile(r"live=1"))
