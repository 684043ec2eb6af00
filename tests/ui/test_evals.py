"""Evaluation pages: datasets, experiments, the comparison with verdicts and diffs, the quality/cost
chart, and online rules (members create and switch them, viewers only read, CSRF enforced); hostile
item and output text is shown as text."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import SCREENSHOTS, Site, Watched, csrf_of, sign_in, signed_in_client

HOSTILE = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
N = 12


def _results(experiment_id: str, good: bool) -> list[dict[str, Any]]:
    results = []
    for i in range(N):
        value = 1.0 if good or i % 4 == 0 else 0.0
        output = f"answer {i}\nParis" if value else f"answer {i}\n{HOSTILE}"
        results.append(
            {
                "item_id": f"item-{i}",
                "output": output,
                "latency_ms": 100 + i * (5 if good else 30),
                "cost_usd": "0.002" if good else "0.0005",
                "scores": [{"name": "exact", "value": value}, {"name": "judge", "value": 0.5 + value / 2}],
            }
        )
    return results


@pytest.fixture(scope="module")
def seeded(site: Site) -> dict[str, str]:
    with site.live.client() as client:
        assert (
            client.post("/api/v1/datasets", json={"name": "team/qa", "description": HOSTILE}).status_code
            == 201
        )
        items = [
            {"id": f"item-{i}", "input": {"q": f"question {i} {HOSTILE}"}, "expected_output": "Paris"}
            for i in range(N)
        ]
        assert client.post("/api/v1/datasets/team%2Fqa/items", json={"items": items}).status_code == 200
        ids = {}
        for name, good in (("gpt-big", True), ("gpt-small", False)):
            created = client.post(
                "/api/v1/experiments", json={"name": name, "dataset": "team/qa", "target": {"model": name}}
            )
            ids[name] = created.json()["id"]
            response = client.post(
                f"/api/v1/experiments/{ids[name]}/results", json={"results": _results(ids[name], good)}
            )
            assert response.status_code == 200, response.text
        rule = client.post(
            "/api/v1/eval-rules",
            json={
                "name": "mentions-paris",
                "sampling_percent": 25,
                "scorer": {"type": "contains", "value": "Paris"},
            },
        )
        assert rule.status_code == 201, rule.text
    return ids


def test_pages_render_and_escape_hostile_content(site: Site, seeded: dict[str, str]) -> None:
    with signed_in_client(site, "viewer") as client:
        pages = {
            "datasets": client.get("/datasets"),
            "dataset": client.get("/datasets/team/qa"),
            "old version": client.get("/datasets/team/qa", params={"version": 1}),
            "item": client.get("/datasets/team/qa/items/item-3"),
            "experiments": client.get("/experiments", params={"dataset": "team/qa"}),
            "experiment": client.get(f"/experiments/{seeded['gpt-small']}"),
            "compare": client.get(
                "/experiments/compare",
                params={"baseline": seeded["gpt-big"], "candidate": seeded["gpt-small"]},
            ),
            "rules": client.get("/evaluations/rules"),
        }
    assert {k: v.status_code for k, v in pages.items()} == dict.fromkeys(pages, 200)
    for name, response in pages.items():
        assert "<script>alert" not in response.text, name
        assert "<img src=x" not in response.text, name
    assert "&lt;script&gt;alert" in pages["experiment"].text
    assert "&lt;script&gt;alert" in pages["dataset"].text
    compare = pages["compare"].text
    assert "significant regression" in compare
    assert 'class="diff"' in compare and "+&lt;script&gt;alert" in compare
    assert "mentions-paris" in pages["rules"].text and "Create rule" not in pages["rules"].text


def test_bad_addresses_get_clear_errors(site: Site, seeded: dict[str, str]) -> None:
    with signed_in_client(site, "viewer") as client:
        answers = {
            "no dataset": client.get("/datasets/nope"),
            "future version": client.get("/datasets/team/qa", params={"version": 99}),
            "bad version": client.get("/datasets/team/qa", params={"version": "latest"}),
            "no item": client.get("/datasets/team/qa/items/nope"),
            "no experiment": client.get("/experiments/nope"),
            "same twice": client.get(
                "/experiments/compare", params={"baseline": seeded["gpt-big"], "candidate": seeded["gpt-big"]}
            ),
            "half a pair": client.get("/experiments/compare", params={"baseline": seeded["gpt-big"]}),
            "bad cursor": client.get(f"/experiments/{seeded['gpt-big']}", params={"cursor": "garbage"}),
        }
    statuses = {k: v.status_code for k, v in answers.items()}
    assert statuses == {
        "no dataset": 404,
        "future version": 422,
        "bad version": 422,
        "no item": 404,
        "no experiment": 404,
        "same twice": 422,
        "half a pair": 422,
        "bad cursor": 422,
    }


def test_rule_changes_need_a_member_and_the_csrf_token(site: Site, seeded: dict[str, str]) -> None:
    form = {"name": "viewer-rule", "sampling_percent": "5", "scorer": '{"type": "exact"}'}
    with signed_in_client(site, "viewer") as client:
        refused = client.post("/evaluations/rules", data=form | {"csrf_token": csrf_of(client)})
    with signed_in_client(site, "member") as client:
        no_token = client.post("/evaluations/rules", data=form)
        token = csrf_of(client)
        bad = client.post("/evaluations/rules", data=form | {"csrf_token": token, "sampling_percent": "150"})
        not_json = client.post("/evaluations/rules", data=form | {"csrf_token": token, "scorer": "{exact"})
        created = client.post("/evaluations/rules", data=form | {"csrf_token": token, "name": "member-rule"})
    with site.live.client() as api:
        names = {r["name"]: r for r in api.get("/api/v1/eval-rules").json()["data"]}
    assert refused.status_code == 403
    assert no_token.status_code == 403
    assert bad.status_code == 422 and "sampling_percent" in bad.text
    assert not_json.status_code == 422 and "must be JSON" in not_json.text
    assert created.status_code == 303
    assert "viewer-rule" not in names and names["member-rule"]["scorer"] == {"type": "exact"}


@pytest.mark.browser
def test_evaluation_pages_in_a_browser(watched: Watched, site: Site, seeded: dict[str, str]) -> None:
    page = sign_in(watched, site, role="member", next_path="/datasets")
    expect(page.locator('tr[data-dataset="team/qa"]')).to_contain_text(str(N))
    page.get_by_role("link", name="team/qa").click()
    expect(page.locator("#items tr[data-item]")).to_have_count(N)
    expect(page.locator("h1")).to_contain_text("team/qa")
    page.screenshot(path=str(SCREENSHOTS / "dataset.png"))

    page.goto(f"{site.url}/experiments?dataset=team%2Fqa")
    expect(page.locator("#pareto-chart")).to_have_attribute("data-rendered", "2")
    expect(page.locator("#pareto-front")).to_contain_text("gpt-small")
    page.screenshot(path=str(SCREENSHOTS / "experiments.png"))
    page.get_by_label("baseline gpt-big").check()
    page.get_by_label("candidate gpt-small").check()
    page.get_by_role("button", name="Compare baseline and candidate").click()
    expect(page.locator('tr[data-metric="exact"] .verdict')).to_have_text("significant regression")
    expect(page.locator(".candidate-output").first).to_contain_text(HOSTILE)  # shown as text
    page.screenshot(path=str(SCREENSHOTS / "experiment-compare.png"), full_page=True)

    page.goto(f"{site.url}/evaluations/rules")
    row = page.locator('tr[data-rule="mentions-paris"]')
    row.get_by_role("button", name="Disable").click()
    expect(page.locator('tr[data-rule="mentions-paris"]')).to_contain_text("disabled")
    page.get_by_label("Name").fill("bad-rule")
    page.get_by_label("Scorer (JSON)").fill('{"type": "vibes"}')
    page.get_by_role("button", name="Create rule").click()
    expect(page.locator("#rules-error")).to_contain_text("unknown scorer type")
    page.screenshot(path=str(SCREENSHOTS / "eval-rules.png"))
    assert not [d for d in watched.dialogs if "xss" in d or d == "1"]
    assert watched.csp_violations() == []
