"""Prompts in the Web UI: list and filters, a prompt's history, rendering, per-version stats, diff,
new versions and label moves (members yes, viewers no), hostile content; the routes' bad input."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from contrail.prompts import lookup
from tests.ui import seed
from tests.ui.conftest import SCREENSHOTS, Site, Watched, csrf_of, sign_in, signed_in_client

ANSWER = "support/answer"
HOSTILE = "hostile-chat"
SCRIPT = "<script>window.__xss=1;alert('prompt')</script>"
V1_TRACES = ["a1" * 16, "a2" * 16, "a3" * 16]
V2_TRACE = "a4" * 16


def create(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/prompts", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def seed_prompts(site: Site) -> None:
    """Two versions of support/answer with traffic and scores, a hostile chat prompt, an editable one."""
    with site.live.client() as client:
        if client.get(f"/api/v1/prompts/{ANSWER}").status_code == 200:
            return  # another test module of this session seeded the shared site already
        create(
            client,
            name=ANSWER,
            prompt="Answer {{question}} politely.\nSign as Contrail.",
            config={"model": "gpt-4o-mini", "temperature": 0.2},
            labels=["production"],
            tags=["support"],
            commit_message="first cut",
        )
        create(
            client,
            name=ANSWER,
            prompt="Answer {{ question }} briefly for {{customer}}.\nSign as Contrail.",
            config={"model": "gpt-4o-mini", "temperature": 0.5},
            labels=["staging"],
            commit_message="shorter answers",
        )
        create(
            client,
            name=HOSTILE,
            type="chat",
            prompt=[
                {"role": "system", "content": SCRIPT + " You help {{name}}."},
                {"role": "user", "content": '<img src=x onerror="alert(2)"> {{question}}'},
                {"type": "placeholder", "name": "history"},
            ],
            config={"model": "gpt-4o-mini", "note": SCRIPT},
            tags=["hostile", SCRIPT],
            commit_message=SCRIPT,
        )
        create(client, name="editable", prompt="Hello {{name}}", config={"model": "gpt-4o-mini"})
        start = seed.now_us() - 3_600_000_000
        events = []
        for i, (trace, ms) in enumerate(zip(V1_TRACES, (100, 200, 300), strict=True)):
            events.append(_generation(trace, start + i * 1_000_000, ms, 1, "0.001"))
        events.append(_generation(V2_TRACE, start + 5_000_000, 400, 2, "0.002"))
        events.append(seed.score(V1_TRACES[0], "helpfulness", 1.0, observation_id=seed.span_id(0x51)))
        events.append(seed.score(V1_TRACES[1], "helpfulness", 0.5))  # trace-level
        events.append(seed.score(V2_TRACE, "helpfulness", 0.0))
        seed.ingest(client, events)


def _generation(trace: str, start: int, ms: float, version: int, cost: str) -> dict[str, Any]:
    return seed.observation(
        trace,
        seed.span_id(0x51),
        "answer",
        start,
        ms,
        type="generation",
        model_requested="gpt-4o-mini",
        input="question",
        output="answer",
        usage={"input_tokens": 10, "output_tokens": 5},
        cost_usd=cost,
        prompt_name=ANSWER,
        prompt_version=version,
    )


@pytest.fixture(scope="module")
def prompts_site(site: Site) -> Site:
    seed_prompts(site)
    return site


# --- in the browser ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_list_filters_by_name_label_and_tag(watched: Watched, prompts_site: Site) -> None:
    page = sign_in(watched, prompts_site, role="viewer")
    page.get_by_role("link", name="Prompts").click()
    expect(page.get_by_role("link", name="Prompts")).to_have_attribute("aria-current", "page")
    row = page.locator(f'tr[data-prompt="{ANSWER}"]')
    expect(row).to_contain_text("v2")
    expect(row.locator('[data-label="production"]')).to_have_text("production → v1")
    expect(row.locator('[data-label="staging"]')).to_have_text("staging → v2")
    expect(row).to_contain_text("support")

    page.get_by_label("Label").fill("production")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#prompts tbody tr")).to_have_count(1)
    expect(page.locator("#prompts")).to_contain_text(ANSWER)

    page.goto(f"{prompts_site.url}/prompts?tag=hostile")
    expect(page.locator("#prompts tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-prompt="{HOSTILE}"]')).to_contain_text(SCRIPT)  # a tag, as text

    page.goto(f"{prompts_site.url}/prompts?name=support/")
    expect(page.locator("#prompts tbody tr")).to_have_count(1)
    page.goto(f"{prompts_site.url}/prompts?name=nothing-like-this")
    expect(page.locator("#prompts")).to_contain_text("No prompt matches")
    assert watched.dialogs == []
    assert watched.csp_violations() == []


@pytest.mark.browser
def test_history_rendering_stats_and_diff(watched: Watched, prompts_site: Site) -> None:
    page = sign_in(watched, prompts_site, role="viewer", next_path="/prompts")
    page.get_by_role("link", name=ANSWER).click()
    expect(page.locator("#version-view")).to_have_attribute("data-version", "2")
    expect(page.locator("#prompt-body mark.prompt-var")).to_have_text(["{{question}}", "{{customer}}"])
    expect(page.locator("#prompt-config")).to_contain_text('"temperature": 0.5')
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("shorter answers")
    expect(history.nth(1)).to_contain_text("first cut")
    expect(history.nth(1).locator('[data-label="production"]')).to_be_visible()
    expect(history.nth(1).locator("td.num")).to_have_text("3")  # calls of v1
    expect(page.locator("#label-log tbody tr")).to_have_count(4)  # latest x2, production, staging

    history.nth(1).get_by_role("link", name="v1").click()
    expect(page.locator("#version-view")).to_have_attribute("data-version", "1")
    stats = page.locator("#version-stats")
    expect(stats.locator('[data-stat="count"]')).to_have_text("3")
    expect(stats.locator('[data-stat="p50"]')).to_have_text("200 ms")
    expect(stats.locator('[data-stat="p95"]')).to_have_text("300 ms")
    expect(stats.locator('[data-stat="cost"]')).to_have_text("$0.003")
    expect(stats.locator('[data-stat="cost-per-call"]')).to_have_text("$0.001")
    expect(stats.locator('[data-score="helpfulness"]')).to_contain_text("0.75 (n=2)")
    page.screenshot(path=str(SCREENSHOTS / "prompt.png"), full_page=True)

    page.locator("#compare-from").select_option("1")
    page.locator("#compare-to").select_option("2")
    page.locator("#compare").get_by_role("button", name="Compare").click()
    expect(page.locator("h1")).to_contain_text("v1 → v2")
    prompt_diff = page.locator("#diff-prompt")
    expect(prompt_diff.locator("td.removed")).to_have_text(["Answer {{question}} politely."])
    expect(prompt_diff.locator("td.added")).to_have_text(["Answer {{ question }} briefly for {{customer}}."])
    expect(page.locator("#config-changes")).to_contain_text("temperature changed: 0.2 → 0.5")
    compare = page.locator("#compare-stats")
    expect(compare.locator('[data-stat="count"]')).to_have_text(["3", "1"])
    expect(compare.locator('[data-stat="cost-per-call"]')).to_have_text(["$0.001", "$0.002"])
    expect(compare.locator('[data-score="helpfulness"]')).to_have_text(["0.75 (n=2)", "0 (n=1)"])
    page.screenshot(path=str(SCREENSHOTS / "prompt-diff.png"), full_page=True)
    assert watched.csp_violations() == []


@pytest.mark.browser
def test_member_adds_a_version_and_moves_a_label(watched: Watched, prompts_site: Site) -> None:
    page = sign_in(watched, prompts_site, role="member", next_path="/prompts/editable")
    page.get_by_text("Edit as a new version").click()
    page.locator("#edit-prompt").fill("Hello {{name")
    page.locator("#edit-message").fill("typo")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator("#edit-error")).to_contain_text("'{{' is not closed by '}}' at position 6")
    expect(page.locator("#edit-prompt")).to_have_value("Hello {{name")  # what was typed is kept
    expect(page.locator("#history tbody tr")).to_have_count(1)

    page.locator("#edit-prompt").fill("Hello {{name}}, welcome to {{place}}!")
    page.locator("#edit-config").fill('{"model": "gpt-4o", "temperature": 0}')
    page.locator("#edit-message").fill("welcome them somewhere")
    page.get_by_role("button", name="Save new version").click()
    expect(page.locator("#version-view")).to_have_attribute("data-version", "2")
    expect(page.locator("#commit-message")).to_have_text("welcome them somewhere")
    expect(page.locator("#history tbody tr").nth(0)).to_contain_text("member@example.com")
    expect(page.locator("#prompt-body mark.prompt-var")).to_have_text(["{{name}}", "{{place}}"])

    form = page.locator("#move-label-form")
    form.get_by_label("Label").fill("production")
    form.get_by_label("Version").select_option("2")
    form.get_by_role("button", name="Move label").click()
    expect(page.locator('#label-badges [data-label="production"]')).to_have_text("production → v2")
    form.get_by_label("Label").fill("latest")
    form.get_by_role("button", name="Move label").click()
    expect(page.locator("#label-error")).to_contain_text("cannot be set")
    log = page.locator("#label-log tbody tr").first
    expect(log).to_contain_text("production")
    expect(log).to_contain_text("set to v2")
    expect(log).to_contain_text("member@example.com")
    found = lookup.get_version(prompts_site.engine(), prompts_site.live.project_id, "editable")
    assert (found.version, found.config) == (2, {"model": "gpt-4o", "temperature": 0})


@pytest.mark.browser
def test_viewer_reads_but_cannot_change(watched: Watched, prompts_site: Site) -> None:
    page = sign_in(watched, prompts_site, role="viewer", next_path=f"/prompts/{ANSWER}")
    expect(page.locator("#history tbody tr")).to_have_count(2)
    expect(page.locator("#new-version-form")).to_have_count(0)
    expect(page.locator("#move-label-form")).to_have_count(0)
    expect(page.get_by_text("can read prompts but not change them")).to_be_visible()


@pytest.mark.browser
def test_hostile_prompt_content_is_shown_as_text(watched: Watched, prompts_site: Site) -> None:
    page = sign_in(watched, prompts_site, role="admin", next_path=f"/prompts/{HOSTILE}")
    body = page.locator("#prompt-body")
    expect(body.locator(".msg").nth(0)).to_contain_text(SCRIPT + " You help {{name}}.")
    expect(body.locator(".msg").nth(1)).to_contain_text('<img src=x onerror="alert(2)">')
    expect(body).to_contain_text("history")
    expect(page.locator("#commit-message")).to_have_text(SCRIPT)
    expect(page.locator("#prompt-config")).to_contain_text(SCRIPT)
    expect(page.locator("#edit-prompt")).to_have_value(re.compile(re.escape(SCRIPT)))
    assert page.locator("#prompt-body script, #prompt-body img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert watched.dialogs == []
    assert watched.csp_violations() == []


# --- the server's checks ----------------------------------------------------------------------------


def test_unknown_prompts_and_versions_are_404_pages(prompts_site: Site) -> None:
    with signed_in_client(prompts_site, "viewer") as viewer:
        for path in (
            "/prompts/no-such-prompt",
            f"/prompts/{ANSWER}?version=99",
            f"/prompts/{ANSWER}?version=abc",
            f"/prompts/{ANSWER}?version=-1",
            f"/prompts/{ANSWER}/diff?from=1&to=99",
            "/prompts/no-such-prompt/diff?from=1&to=2",
        ):
            response = viewer.get(path)
            assert response.status_code == 404, path
            assert "Not found" in response.text and "<h1>" in response.text, path
        missing = viewer.get(f"/prompts/{ANSWER}/diff?from=1")
        assert missing.status_code == 422 and "Choose two versions" in missing.text
        bad_cursor = viewer.get("/prompts?cursor=not-a-cursor")
        assert bad_cursor.status_code == 422


def test_prompts_of_another_project_are_not_found(prompts_site: Site) -> None:
    from contrail.prompts import registry
    from contrail.store.projects import create_project

    other = create_project(prompts_site.engine(), "other-prompts")
    registry.create_version(prompts_site.engine(), other.id, name="secret-prompt", type="text", prompt="x")
    with signed_in_client(prompts_site, "admin") as admin:
        assert admin.get("/prompts/secret-prompt").status_code == 404
        assert "secret-prompt" not in admin.get("/prompts").text


def test_new_version_bad_input_changes_nothing(prompts_site: Site) -> None:
    engine, project_id = prompts_site.engine(), prompts_site.live.project_id
    before = len(lookup.list_versions(engine, project_id, HOSTILE))
    with signed_in_client(prompts_site, "member") as member:
        token = {"csrf_token": csrf_of(member)}
        text_path = f"/prompts/{ANSWER}/versions"
        chat_path = f"/prompts/{HOSTILE}/versions"
        cases = [
            (text_path, {"prompt": "Hi {{name"}, "is not closed"),
            (text_path, {"prompt": "Hi name}}"}, "without a matching"),
            (text_path, {"prompt": "Hi {{ 1x }}"}, "is not a variable name"),
            (text_path, {"prompt": "   "}, "The prompt is empty"),
            (text_path, {"prompt": "ok", "config": "{not json"}, "Config is not valid JSON"),
            (text_path, {"prompt": "ok", "config": "[1, 2]"}, "Config must be a JSON object"),
            (chat_path, {"prompt": "not json"}, "must be a JSON list"),
            (chat_path, {"prompt": '[{"role": "user"}]'}, "needs a string role and a string content"),
            (chat_path, {"prompt": '{"role": "user", "content": "x"}'}, "non-empty list"),
        ]
        for path, data, message in cases:
            response = member.post(path, data={**data, **token})
            assert response.status_code == 422, (data, response.text[:300])
            assert message in response.text, (data, message)
        assert member.post("/prompts/no-such/versions", data={"prompt": "x", **token}).status_code == 404
        no_csrf = member.post(text_path, data={"prompt": "fine {{x}}"})
        assert no_csrf.status_code == 403 and "did not come from Contrail" in no_csrf.text
    assert len(lookup.list_versions(engine, project_id, HOSTILE)) == before
    assert len(lookup.list_versions(engine, project_id, ANSWER)) == 2


def test_label_moves_are_checked(prompts_site: Site) -> None:
    engine, project_id = prompts_site.engine(), prompts_site.live.project_id
    path = f"/prompts/{ANSWER}/labels"
    with (
        signed_in_client(prompts_site, "viewer") as viewer,
        signed_in_client(prompts_site, "member") as member,
    ):
        viewer_token = {"csrf_token": csrf_of(viewer)}
        refused = viewer.post(path, data={"label": "production", "version": "2", **viewer_token})
        assert refused.status_code == 403 and "does not allow" in refused.text
        token = {"csrf_token": csrf_of(member)}
        assert member.post(path, data={"label": "production", "version": "2"}).status_code == 403  # no CSRF
        for data, status, message in [
            ({"label": "latest", "version": "1"}, 422, "cannot be set"),
            ({"label": "Bad Label", "version": "1"}, 422, "may only use lowercase"),
            ({"label": "", "version": "1"}, 422, "A label has 1 to 36 characters"),
            ({"label": "production", "version": "abc"}, 422, "is not a version number"),
            ({"label": "production", "version": "99"}, 404, "has no version 99"),
        ]:
            response = member.post(path, data={**data, **token})
            assert response.status_code == status, (data, response.text[:300])
            assert message in response.text, (data, message)
        unknown = member.post("/prompts/no-such/labels", data={"label": "x", "version": "1", **token})
        assert unknown.status_code == 404
    assert lookup.get_version(engine, project_id, ANSWER, label="production").version == 1
