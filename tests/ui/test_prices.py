"""Settings → Prices in a real browser: import, look up, delete; roles and CSRF enforced on the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from contrail.analytics.overrides import list_overrides
from tests.analytics.test_overrides import SELF_HOSTED
from tests.ui.conftest import Site, Watched, csrf_of, sign_in, signed_in_client

HOSTILE_MODEL = '<img src=x onerror=alert("xss")>'


@pytest.mark.browser
def test_member_imports_looks_up_and_deletes_overrides(watched: Watched, site: Site, tmp_path: Path) -> None:
    page = sign_in(watched, site, role="member", next_path="/settings/prices")
    expect(page.locator("#overrides")).to_contain_text("No overrides")

    page.locator('textarea[name="document"]').fill('{"entries": [{"model": "x", "prices": []}]}')
    page.get_by_role("button", name="Import").click()
    problems = page.locator("#prices-problems")
    expect(problems).to_contain_text("Nothing was imported")
    expect(problems.locator("li")).to_have_count(2)  # missing provider, empty prices
    expect(page.locator("#overrides")).to_contain_text("No overrides")

    upload = tmp_path / "prices.json"
    upload.write_text(json.dumps(SELF_HOSTED))
    page.locator('input[name="upload"]').set_input_files(str(upload))
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#prices-message")).to_contain_text("1 added, 0 replaced")
    row = page.locator('tr[data-override="self-hosted/acme-llama-70b"]')
    expect(row).to_contain_text("acme-llama")
    expect(row).to_contain_text("2026-01-01, 2026-04-01")

    page.get_by_label("Model").fill("acme-llama")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#match")).to_contain_text("matched self-hosted/acme-llama-70b (project)")
    page.get_by_label("Model").fill(HOSTILE_MODEL)
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#match")).to_contain_text("unpriced")
    expect(page.locator("#match code")).to_have_text(HOSTILE_MODEL)  # shown as text, not markup

    row.get_by_role("button", name="Delete").click()  # confirm() accepted by the fixture
    expect(page.locator("#overrides")).to_contain_text("No overrides")
    assert any("Delete this override" in d for d in watched.dialogs)
    assert not [d for d in watched.dialogs if "xss" in d]
    assert watched.csp_violations() == []
    assert list_overrides(site.engine(), site.live.project_id) == (2, [])


@pytest.mark.browser
def test_viewer_sees_prices_but_no_import_form(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, role="viewer", next_path="/settings/prices")
    expect(page.get_by_role("button", name="Import")).to_have_count(0)
    expect(page.get_by_text("can see prices but not change them")).to_be_visible()
    expect(page.get_by_role("link", name="Prices")).to_have_attribute("aria-current", "page")


def test_roles_and_csrf_on_price_changes(site: Site) -> None:
    document = json.dumps(SELF_HOSTED)
    before = list_overrides(site.engine(), site.live.project_id)
    with signed_in_client(site, "viewer") as viewer, signed_in_client(site, "member") as member:
        headers = {"X-CSRF-Token": csrf_of(viewer)}
        refused = viewer.post("/settings/prices", data={"document": document}, headers=headers)
        assert refused.status_code == 403 and "does not allow" in refused.text
        no_token = member.post("/settings/prices", data={"document": document})
        assert no_token.status_code == 403
        assert list_overrides(site.engine(), site.live.project_id) == before
        member_headers = {"X-CSRF-Token": csrf_of(member)}
        created = member.post("/settings/prices", data={"document": document}, headers=member_headers)
        assert created.status_code == 201
        delete = "/settings/prices/self-hosted/acme-llama-70b/delete"
        assert viewer.post(delete, headers=headers).status_code == 403
        assert member.post(delete, headers=member_headers).status_code == 303
        assert member.post(delete, headers=member_headers).status_code == 404
        empty = member.post("/settings/prices", data={"document": "  "}, headers=member_headers)
        assert empty.status_code == 422 and "Paste a price document" in empty.text
