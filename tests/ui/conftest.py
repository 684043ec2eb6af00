"""Fixtures for the Web UI tests: a live server with seeded traces and users, and real Chromium.

Browser tests need Debian's chromium at /usr/bin/chromium, driven by Playwright for Python (never
`playwright install`). When it is missing, the session installs it with apt-get under
CONTRAIL_TEST_BROWSER=required (CI); locally the browser tests skip with a reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from contrail.store import accounts
from tests.conftest import LiveContrail, start_contrail
from tests.ui import seed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# The docs' screenshots are retaken only when asked (`make screenshots`), so `make test` leaves the
# work tree clean; otherwise they go to a temporary folder (still taken, so the code path runs).
SCREENSHOTS = (
    Path(__file__).parents[2] / "docs" / "screenshots"
    if os.environ.get("CONTRAIL_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="contrail-screenshots-"))
)
PASSWORD = "correct horse battery staple"


@dataclasses.dataclass
class Site:
    """The seeded server: its URL, the project's API key, and users per role."""

    live: LiveContrail
    emails: dict[str, str]

    @property
    def url(self) -> str:
        return self.live.url

    def engine(self) -> Any:
        return self.live.app.state.contrail.engine  # type: ignore[attr-defined]


def _ensure_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CONTRAIL_TEST_BROWSER") != "required":
        pytest.skip(
            f"{CHROMIUM} is missing (apt-get install chromium; CI sets CONTRAIL_TEST_BROWSER=required)"
        )
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.fail(
            f"CONTRAIL_TEST_BROWSER=required but {CHROMIUM} is missing and apt-get cannot run as root"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update"], check=True, env=env, capture_output=True)
    subprocess.run([apt, "install", "-y", "chromium"], check=True, env=env, capture_output=True)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"apt-get install chromium did not provide {CHROMIUM}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium, shared by the session (each test gets its own context)."""
    _ensure_chromium()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A live server on SQLite with the seed traces, an admin, a member and a viewer."""
    root = tmp_path_factory.mktemp("ui")
    server, live = start_contrail(f"sqlite:///{root / 'contrail.db'}", root / "home")
    try:
        engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
        emails = {}
        for role in accounts.ROLES:
            user = accounts.create_user(engine, f"{role}@example.com", PASSWORD)
            accounts.set_role(engine, user.id, live.project_id, role)
            emails[role] = user.email
        with live.client() as client:
            seed.seed_all(client)
        yield Site(live, emails)
    finally:
        server.stop()


class Watched:
    """A page plus what it reported: dialogs opened and console messages."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.console: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="light")
    context.set_default_timeout(10_000)
    try:
        yield Watched(context.new_page())
    finally:
        context.close()


def sign_in(watched: Watched, site: Site, role: str = "admin", next_path: str = "/traces") -> Any:
    page = watched.page
    page.goto(f"{site.url}/login?{urlencode({'next': next_path})}")
    page.get_by_label("E-mail").fill(site.emails[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(site.url + next_path)))
    return page


@contextlib.contextmanager
def signed_in_client(site: Site, role: str = "admin") -> Iterator[httpx.Client]:
    """An HTTP client holding a UI session (for tests of the server's checks, without a browser)."""
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=30) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        response = client.post(
            "/login", data={"email": site.emails[role], "password": PASSWORD, "csrf_token": token.group(1)}
        )
        assert response.status_code == 303, response.text
        yield client


def csrf_of(client: httpx.Client, path: str = "/settings/keys") -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)
