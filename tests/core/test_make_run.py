"""What `make run` does: `contrail server --demo` on a fresh CONTRAIL_HOME prints credentials and fills
the default project with demo traces, a prompt with labelled versions, a dataset, two experiments and
an online rule, which the API and the UI pages then serve."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

from tests.server_process import free_port, start_server


def _wait_for_demo(client: httpx.Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    deadline = time.monotonic() + 90
    users: list[dict[str, Any]] = []
    experiments: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        users = client.get("/api/v1/users").json()["data"]
        experiments = client.get("/api/v1/experiments").json()["data"]
        if len(users) >= 3 and [e["status"] for e in experiments] == ["completed"] * 2:
            break
        time.sleep(0.5)
    return users, experiments


def _ui_pages(url: str, saved: dict[str, str], paths: list[str]) -> dict[str, httpx.Response]:
    with httpx.Client(base_url=url, timeout=30) as ui:
        token = re.search(r'name="csrf_token" value="([^"]+)"', ui.get("/login").text)
        assert token is not None
        signed = ui.post(
            "/login",
            data={
                "email": saved["admin_email"],
                "password": saved["admin_password"],
                "csrf_token": token.group(1),
            },
        )
        assert signed.status_code == 303, signed.text
        return {path: ui.get(path) for path in paths}


def test_server_with_demo_seeds_an_empty_project_once(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port, args=("--demo",))
    try:
        saved = json.loads((tmp_path / "first-run-credentials.json").read_text())
        headers = {"Authorization": f"Bearer {saved['secret_key']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            users, experiments = _wait_for_demo(client)
            traces = client.get("/api/v1/traces", params={"limit": 50}).json()["data"]
        ids = {e["name"]: e["id"] for e in experiments}
        compare = (
            f"/experiments/compare?baseline={ids.get('rag-answer v2 (production)')}"
            f"&candidate={ids.get('rag-answer v3 (staging)')}"
        )
        pages = _ui_pages(
            url,
            saved,
            ["/prompts", "/prompts/rag-answer", "/datasets", "/experiments", compare, "/evaluations/rules"],
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert len(users) >= 3
    assert any(t["total_cost_usd"] not in (None, "0") for t in traces)
    assert {m for t in traces for m in t["models"]} & {"gpt-4o-mini", "gpt-4o", "claude-haiku-4-5"}
    assert sorted(ids) == ["rag-answer v2 (production)", "rag-answer v3 (staging)"]
    assert {path: r.status_code for path, r in pages.items()} == dict.fromkeys(pages, 200)
    assert "rag-answer" in pages["/prompts"].text
    assert all(w in pages["/prompts/rag-answer"].text for w in ("production", "staging", "Shorter answers"))
    assert "support/faq" in pages["/datasets"].text
    assert "rag-answer v3 (staging)" in pages["/experiments"].text
    assert "faq-01" in pages[compare].text  # a regressed item
    assert "rag-latency" in pages["/evaluations/rules"].text
