"""The UI's security edges over real HTTP: headers, CSRF, cookies, sign-in throttle, redirects."""

from __future__ import annotations

import re

import httpx

from contrail.server.ui.headers import CONTENT_SECURITY_POLICY
from contrail.store import accounts
from tests.ui.conftest import PASSWORD, Site, csrf_of, signed_in_client


def _login_token(client: httpx.Client) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found is not None
    return found.group(1)


def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    with signed_in_client(site) as client:
        for path in ("/login", "/traces", "/settings/keys", "/static/app.js"):
            response = client.get(path)
            policy = response.headers["content-security-policy"]
            assert policy == CONTENT_SECURITY_POLICY, path
            assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
    with httpx.Client(base_url=site.url) as anonymous:
        assert "content-security-policy" not in anonymous.get("/docs").headers  # Swagger's own scripts


def test_state_changes_without_the_csrf_token_are_refused(site: Site) -> None:
    with signed_in_client(site) as client:
        token = csrf_of(client)
        assert client.post("/settings/keys", data={"note": "no token"}).status_code == 403
        assert (
            client.post("/settings/keys", data={"note": "x"}, headers={"X-CSRF-Token": "forged"}).status_code
            == 403
        )
        cross_site = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
        assert client.post("/settings/keys", data={"note": "x"}, headers=cross_site).status_code == 403
        assert client.post("/logout").status_code == 403
        ok = client.post("/settings/keys", data={"note": "with token", "csrf_token": token})
        assert ok.status_code == 201
    with httpx.Client(base_url=site.url) as fresh:  # sign-in itself needs the double-submit token
        response = fresh.post("/login", data={"email": site.emails["admin"], "password": PASSWORD})
        assert response.status_code == 403
        assert "contrail_session" not in response.cookies


def test_session_cookie_flags(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        response = client.post(
            "/login",
            data={"email": site.emails["viewer"], "password": PASSWORD, "csrf_token": _login_token(client)},
        )
        cookie = response.headers["set-cookie"]
        assert "contrail_session=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain HTTP here
    with httpx.Client(base_url=site.url, headers={"X-Forwarded-Proto": "https"}) as behind_tls:
        token = _login_token(behind_tls)  # its cookie is Secure now, so httpx would not send it over http
        response = behind_tls.post(
            "/login",
            data={"email": site.emails["viewer"], "password": PASSWORD, "csrf_token": token},
            headers={"Cookie": f"contrail_login_csrf={token}"},
        )
        session_cookie = next(c for c in response.headers.get_list("set-cookie") if "contrail_session=" in c)
        assert "Secure" in session_cookie


def test_sign_in_is_throttled_per_address_and_email(site: Site) -> None:
    engine = site.engine()
    accounts.create_user(engine, "throttled@example.com", PASSWORD)
    accounts.create_user(engine, "neighbour@example.com", PASSWORD)
    with httpx.Client(base_url=site.url) as client:
        token = _login_token(client)

        def attempt(email: str, password: str) -> httpx.Response:
            return client.post("/login", data={"email": email, "password": password, "csrf_token": token})

        for _ in range(accounts.MAX_FAILURES_PER_EMAIL):
            assert attempt("throttled@example.com", "wrong password").status_code == 401
        blocked = attempt("throttled@example.com", PASSWORD)  # even the right password waits now
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        assert "Too many failed sign-ins" in blocked.text
        assert attempt("neighbour@example.com", PASSWORD).status_code == 303  # others are unaffected


def test_sign_out_ends_the_session_on_the_server(site: Site) -> None:
    with signed_in_client(site) as client:
        stolen = client.cookies["contrail_session"]
        assert client.post("/logout", headers={"X-CSRF-Token": csrf_of(client)}).status_code == 303
    with httpx.Client(base_url=site.url, cookies={"contrail_session": stolen}) as replay:
        response = replay.get("/traces")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


def test_unauthenticated_requests_are_sent_to_sign_in(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        page = client.get("/traces?user_id=alice")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Ftraces%3Fuser_id%3Dalice"
        fragment = client.get("/traces", headers={"HX-Request": "true"})
        assert fragment.status_code == 401
        assert fragment.headers["hx-redirect"].startswith("/login?next=")
        assert client.get(f"/traces/{'c0' * 16}/observations/{'0' * 16}/json").status_code == 303


def test_sign_in_never_redirects_off_site(site: Site) -> None:
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        with httpx.Client(base_url=site.url) as client:
            response = client.post(
                "/login",
                data={
                    "email": site.emails["viewer"],
                    "password": PASSWORD,
                    "csrf_token": _login_token(client),
                    "next": target,
                },
            )
            assert response.status_code == 303
            assert response.headers["location"] == "/traces", target
