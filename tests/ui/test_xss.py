"""Hostile trace content never executes: an XSS corpus in names, inputs, outputs, metadata, tags, user
and session ids, tool calls and model names, viewed on every page that shows them, in Chromium.

Three independent checks per page: nothing ran (no dialog, no ``window.__xss``), nothing was injected
(no script, handler attribute, frame, style or javascript:/data: link in the DOM), and the browser
reported no Content-Security-Policy violation (which would mean markup got through escaping and only
the policy stopped it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.ui import seed
from tests.ui.conftest import Site, Watched, sign_in

pytestmark = [pytest.mark.browser]

INJECTED = """() => {
  const found = [];
  const origin = location.origin + "/static/";
  for (const el of document.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    if (tag === "script" && !(el.src || "").startsWith(origin)) found.push("script " + el.outerHTML);
    if (["iframe", "object", "embed", "style", "img", "math", "body"].includes(tag) && el !== document.body)
      found.push(tag);
    if (tag === "svg" && !el.matches("svg.bar, svg.axis")) found.push("svg");
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name) || attr.name === "style") found.push(tag + " @" + attr.name);
      if (["href", "src", "action", "formaction"].includes(attr.name)
          && /^\\s*(javascript|data|vbscript):/i.test(attr.value.replace(/[\\s\\x00-\\x1f]/g, "")))
        found.push(tag + " " + attr.name + "=" + attr.value);
    }
  }
  return {found, flag: window.__xss === undefined ? null : String(window.__xss)};
}"""


def _assert_inert(watched: Watched, where: str) -> None:
    result: dict[str, Any] = watched.page.evaluate(INJECTED)
    assert result["flag"] is None, where
    assert result["found"] == [], where
    assert watched.dialogs == [], where
    assert watched.csp_violations() == [], where


def _trace_id(index: int) -> str:
    return f"{0xF00 + index:032x}"


def test_lists_show_the_payloads_as_text(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path="/traces?q=xss")
    for index, payload in enumerate(seed.XSS):
        expect(page.get_by_role("link", name=f"xss-{index} {payload}", exact=True)).to_be_visible()
    _assert_inert(watched, "traces list")
    for path in (
        "/traces?tag=xss-3",
        "/sessions",
        "/users",
        "/observations?error=true",
        "/observations?q=xss",
    ):
        page.goto(site.url + path)
        _assert_inert(watched, path)


@pytest.mark.parametrize("index", range(len(seed.XSS)))
def test_trace_session_and_user_pages_stay_inert(watched: Watched, site: Site, index: int) -> None:
    payload = seed.XSS[index]
    trace_id = _trace_id(index)
    page = sign_in(watched, site, next_path=f"/traces/{trace_id}")
    expect(page.locator("#trace-name")).to_have_text(f"xss-{index} {payload}")
    expect(page.locator("#panel-input")).to_be_visible()
    _assert_inert(watched, f"trace {index} root")

    child = page.locator("#tree .row").nth(1)
    child.locator("a").click()  # the panel arrives through htmx
    panel = page.locator("#panel")
    expect(panel).to_have_attribute("data-span", f"{0xC01 + 2 * index:016x}")
    expect(panel.locator(".error-box")).to_contain_text(payload.split("\n")[0][:20])
    expect(panel.locator(".tool-call").first).to_be_visible()
    _assert_inert(watched, f"trace {index} child panel")

    page.goto(f"{site.url}/sessions/{quote(f'session{index}{payload}', safe='')}")
    expect(page.locator("#session-id")).to_have_text(f"session{index}{payload}")
    _assert_inert(watched, f"session {index}")

    page.goto(f"{site.url}/users/{quote(f'user{index}{payload}', safe='')}")
    expect(page.locator("#user-id")).to_have_text(f"user{index}{payload}")
    _assert_inert(watched, f"user {index}")


def test_key_notes_are_escaped(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path="/settings/keys")
    page.get_by_placeholder("What is this key for?").fill(seed.XSS[1])
    page.get_by_role("button", name="Create API key").click()
    expect(page.locator("#keys")).to_contain_text(seed.XSS[1])
    _assert_inert(watched, "keys")
