"""API keys and members through the UI, with roles enforced on the server."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from contrail.store import accounts, projects
from tests.ui.conftest import Site, Watched, csrf_of, sign_in, signed_in_client


@pytest.mark.browser
def test_admin_creates_a_key_that_works_then_revokes_it(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, next_path="/settings/keys")
    page.get_by_placeholder("What is this key for?").fill("ci pipeline")
    page.get_by_role("button", name="Create API key").click()
    secret = page.locator("#issued-secret").inner_text()
    public = page.locator("#issued-public").inner_text()
    assert secret.startswith("sk-ctl-")
    with httpx.Client(base_url=site.url) as api:
        assert api.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        page.goto(f"{site.url}/settings/keys")
        assert secret not in page.content()  # shown once
        row = page.locator(f'tr[data-key="{public}"]')
        expect(row).to_contain_text("ci pipeline")
        row.get_by_role("button", name="Revoke").click()  # confirm() accepted by the fixture
        expect(row).to_contain_text("revoked")
        assert any("Revoke this key" in d for d in watched.dialogs)
        assert api.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


@pytest.mark.browser
def test_viewer_is_denied_key_creation(watched: Watched, site: Site) -> None:
    page = sign_in(watched, site, role="viewer", next_path="/settings/keys")
    expect(page.get_by_role("button", name="Create API key")).to_have_count(0)
    expect(page.get_by_text("can see keys but not create")).to_be_visible()
    before = len(projects.list_keys(site.engine(), site.live.project_id))
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.post(
        f"{site.url}/settings/keys", form={"note": "sneaky", "csrf_token": token or ""}
    )
    assert response.status == 403
    assert "does not allow" in response.text()
    assert len(projects.list_keys(site.engine(), site.live.project_id)) == before


def test_roles_on_every_settings_action(site: Site) -> None:
    key = projects.create_key(site.engine(), site.live.project_id, "to revoke")
    with signed_in_client(site, "viewer") as viewer, signed_in_client(site, "member") as member:
        token = csrf_of(viewer)
        headers = {"X-CSRF-Token": token}
        assert viewer.post("/settings/keys", headers=headers).status_code == 403
        revoke = f"/settings/keys/{key.key.public_key}/revoke"
        assert viewer.post(revoke, headers=headers).status_code == 403
        assert (
            viewer.post(
                "/settings/members", data={"email": "x@y.z", "role": "admin"}, headers=headers
            ).status_code
            == 403
        )
        assert viewer.post("/settings/projects", data={"name": "mine"}, headers=headers).status_code == 403

        member_headers = {"X-CSRF-Token": csrf_of(member)}
        assert member.post("/settings/keys", data={"note": "m"}, headers=member_headers).status_code == 201
        assert member.post(revoke, headers=member_headers).status_code == 303
        add = member.post(
            "/settings/members", data={"email": "x@y.z", "role": "admin"}, headers=member_headers
        )
        assert add.status_code == 403  # members manage keys, not people


def test_admin_adds_a_member_who_can_then_sign_in(site: Site) -> None:
    with signed_in_client(site, "admin") as admin:
        response = admin.post(
            "/settings/members",
            data={"email": "newcomer@example.com", "role": "viewer"},
            headers={"X-CSRF-Token": csrf_of(admin)},
        )
        assert response.status_code == 201
        found = re.search(r'id="invited-password">([^<]+)<', response.text)
        assert found is not None
    with httpx.Client(base_url=site.url) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        signed = client.post(
            "/login",
            data={"email": "newcomer@example.com", "password": found.group(1), "csrf_token": token.group(1)},
        )
        assert signed.status_code == 303
        page = client.get("/settings/members")
        assert "(viewer)" in page.text


def test_a_project_the_user_is_not_in_stays_invisible(site: Site) -> None:
    engine = site.engine()
    other = projects.create_project(engine, "not-yours")
    issued = projects.create_key(engine, other.id)
    trace_id = "9f" * 16
    event = {
        "id": "o1",
        "type": "observation",
        "body": {
            "trace_id": trace_id,
            "span_id": "1" * 16,
            "name": "secret-work",
            "start_us": 1_760_000_000_000_000,
        },
    }
    with httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {issued.secret_key}"}) as api:
        assert api.post("/api/v1/ingest", json={"batch": [event]}).status_code == 207
    with signed_in_client(site, "member") as member:
        assert member.get(f"/traces/{trace_id}?project={other.id}").status_code == 404
        listing = member.get(f"/traces?project={other.id}&q=secret")
        assert "secret-work" not in listing.text
        switch = member.post(
            "/settings/project", data={"project_id": other.id}, headers={"X-CSRF-Token": csrf_of(member)}
        )
        assert switch.status_code == 403


def test_admin_changes_roles_and_removes_members_but_not_themselves(site: Site) -> None:
    engine = site.engine()
    user = accounts.create_user(engine, "temp-member@example.com", "a long enough password")
    accounts.set_role(engine, user.id, site.live.project_id, "viewer")
    admin_user = accounts.find_user(engine, site.emails["admin"])
    assert admin_user is not None
    with signed_in_client(site, "admin") as admin:
        headers = {"X-CSRF-Token": csrf_of(admin)}
        changed = admin.post(f"/settings/members/{user.id}/role", data={"role": "member"}, headers=headers)
        assert changed.status_code == 303
        roles = {m.user.email: m.role for m in accounts.list_members(engine, site.live.project_id)}
        assert roles["temp-member@example.com"] == "member"
        bad = admin.post(f"/settings/members/{user.id}/role", data={"role": "owner"}, headers=headers)
        assert bad.status_code == 422
        assert admin.post(f"/settings/members/{admin_user.id}/remove", headers=headers).status_code == 422
        assert admin.post(f"/settings/members/{user.id}/remove", headers=headers).status_code == 303
        emails = {m.user.email for m in accounts.list_members(engine, site.live.project_id)}
        assert "temp-member@example.com" not in emails
