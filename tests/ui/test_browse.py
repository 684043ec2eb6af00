"""End to end in Chromium: sign in, filter and search traces, open a trace, walk its tree, read the
chat, replay a session. Screenshots for the docs are taken along the way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.ui import seed
from tests.ui.conftest import SCREENSHOTS, Site, Watched, sign_in

pytestmark = [pytest.mark.browser]


def test_sign_in_lands_on_traces_and_sign_out_ends_the_session(watched: Watched, site: Site) -> None:
    page = watched.page
    page.goto(f"{site.url}/traces")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Ftraces$"))
    page.get_by_label("E-mail").fill(site.emails["admin"])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    sign_in(watched, site)
    expect(page.get_by_role("heading", name="Traces")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{site.url}/traces")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert watched.csp_violations() == []


def test_filter_search_and_sort_keep_their_state_in_the_url(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path="/traces?range=24h")
    rows = page.locator("#trace-results tbody tr")
    expect(rows).to_have_count(6)
    page.screenshot(path=str(SCREENSHOTS / "traces.png"))

    page.get_by_placeholder("User").fill("bob")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"user_id=bob"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("summarise-doc")

    page.goto(f"{site.url}/traces")
    page.locator("#search").fill("kangaroos")
    page.locator("#search").press("Enter")
    expect(page).to_have_url(re.compile(r"q=kangaroos"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("summarise-doc")

    page.goto(f"{site.url}/traces?error=true")
    expect(rows.filter(has_text="failing-call")).to_have_count(1)
    expect(rows.filter(has_text="support-chat")).to_have_count(0)

    page.goto(f"{site.url}/traces?tag=prod&metadata=tenant%3Dacme")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("support-chat")
    expect(rows.first).to_contain_text("helpfulness 0.9")

    page.goto(f"{site.url}/traces?q=kangaroos&sort=latency&order=desc")
    page.get_by_role("link", name="Latency").click()  # a second click flips the order
    expect(page).to_have_url(re.compile(r"sort=latency&order=asc"))
    expect(page.locator("#search")).to_have_value("kangaroos")

    page.goto(f"{site.url}/traces?min_latency_ms=abc")
    expect(page.get_by_role("alert")).to_contain_text("min_latency_ms")


def test_keyboard_opens_a_trace_and_escape_returns(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path="/traces?q=kangaroos")
    page.keyboard.press("j")
    expect(page.locator("tr.kbd")).to_contain_text("summarise-doc")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/traces/{seed.BOB_TRACE}"))
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"/traces\?project="))


def test_trace_detail_tree_waterfall_and_chat(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path=f"/traces/{seed.CHAT_TRACE}")
    tree = page.locator("#tree")
    expect(tree.locator(".row")).to_have_count(4)
    expect(page.locator("#trace-user")).to_have_attribute("href", re.compile(r"^/users/alice"))
    expect(page.locator("#trace-session")).to_have_attribute("href", re.compile(r"^/sessions/sess-support"))
    bars = tree.locator("svg.bar rect")
    widths = [float(bars.nth(i).get_attribute("width") or 0) for i in range(4)]
    assert widths[0] == pytest.approx(1000, rel=0.01)  # the root spans the whole trace
    assert widths[1] < widths[0]

    generation = tree.locator(".row", has_text="chat gpt-4o-mini")
    tool_row = tree.locator(".row", has_text="lookup_policy")
    retriever_row = tree.locator(".row", has_text="search-policies")
    generation.locator("button.tw").click()  # collapse
    expect(tool_row).to_be_hidden()
    expect(retriever_row).to_be_hidden()
    generation.locator("button.tw").click()  # expand again
    expect(tool_row).to_be_visible()
    expect(retriever_row).to_be_visible()
    page.get_by_role("button", name="Collapse all").click()
    expect(generation).to_be_hidden()
    page.get_by_role("button", name="Expand all").click()
    expect(retriever_row).to_be_visible()

    generation.get_by_role("link", name="chat gpt-4o-mini").click()
    panel = page.locator("#panel")
    expect(panel).to_have_attribute("data-span", f"{0xA2:016x}")
    expect(page).to_have_url(re.compile(f"observation={0xA2:016x}"))
    chat_in = panel.locator("#panel-input .msg")
    expect(chat_in).to_have_count(2)
    expect(chat_in.nth(0).locator(".role")).to_have_text("system")
    expect(chat_in.nth(1).locator("strong")).to_have_text("refunds")  # markdown rendered
    reply = panel.locator("#panel-output .msg.role-assistant")
    expect(reply.locator("em")).to_have_text("5 business days")
    expect(reply.get_by_role("link", name="the policy")).to_have_attribute(
        "href", "https://example.com/refunds"
    )
    expect(reply.locator(".tool-call")).to_contain_text("lookup_policy")
    expect(reply.locator(".tool-call pre")).to_contain_text('"topic": "refunds"')
    expect(panel).to_contain_text("gpt-4o-mini")
    expect(panel).to_contain_text("120 in · 40 out")
    expect(panel).to_contain_text("$0.0012")
    expect(panel).to_contain_text("Time to first token")
    page.screenshot(path=str(SCREENSHOTS / "trace-light.png"))
    page.locator("#theme-toggle").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.screenshot(path=str(SCREENSHOTS / "trace-dark.png"))

    page.keyboard.press("j")  # next observation in the tree
    expect(panel).to_have_attribute("data-span", f"{0xA3:016x}")
    expect(panel.locator("#panel-output .kv")).to_have_text(re.compile(r"days\s*5"))
    assert watched.csp_violations() == []


def test_copy_as_json_puts_the_observation_on_the_clipboard(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path=f"/traces/{seed.CHAT_TRACE}")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page.get_by_role("button", name="Copy as JSON").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert '"trace_id": "' + seed.CHAT_TRACE + '"' in copied


def test_error_observation_shows_its_message(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path=f"/traces/{seed.ERROR_TRACE}")
    expect(page.locator("#panel .error-box")).to_contain_text("rate limited by provider")


def test_session_replay_reads_as_one_conversation(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path="/sessions")
    page.get_by_role("link", name=seed.SESSION).click()
    turns = page.locator(".turn")
    expect(turns).to_have_count(3)
    for index, (question, answer) in enumerate(zip(seed.TURN_QUESTIONS, seed.TURN_ANSWERS, strict=True)):
        turn = turns.nth(index)
        expect(turn.locator(".msg.role-user")).to_have_text(re.compile(re.escape(question)))
        expect(turn.locator(".msg.role-assistant")).to_contain_text(answer.replace("**", ""))
    # history is not repeated: later turns show only their new user message
    expect(turns.nth(2).locator(".msg")).to_have_count(2)
    expect(turns.nth(0).locator(".turn-head")).to_contain_text("400 ms")
    expect(turns.nth(2).locator(".turn-head")).to_contain_text("$0.003")
    page.screenshot(path=str(SCREENSHOTS / "session-replay.png"))


def test_users_page_leads_to_a_users_sessions(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path="/users")
    page.get_by_role("link", name="carla", exact=True).click()
    expect(page.locator("#user-id")).to_have_text("carla")
    expect(page.get_by_role("link", name=seed.SESSION)).to_be_visible()


def test_observations_search_finds_errored_generations_of_a_model(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path="/observations?type=generation&model=gpt-4o&error=true&range=7d")
    rows = page.locator("#observation-results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("failing-call")
    rows.first.get_by_role("link", name="failing-call").click()
    expect(page.locator("#panel .error-box")).to_contain_text("rate limited")
