"""The prompt playground: runs against the bundled fake provider and an OpenAI-compatible endpoint,
each run traced into the project with the prompt version and its cost; hostile output shown as text;
roles, CSRF and bad input checked on the server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from contrail.prompts import playground
from contrail.store import accounts
from contrail.store.tables import observations
from contrail.store.types import unpack_json
from contrail.testing.fake_llm import FakeLLM
from tests.conftest import start_contrail
from tests.ui.conftest import PASSWORD, SCREENSHOTS, Site, Watched, csrf_of, sign_in, signed_in_client
from tests.ui.test_prompts import ANSWER, HOSTILE, SCRIPT, seed_prompts

HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def prompts_site(site: Site) -> Site:
    seed_prompts(site)
    return site


def _trace_of(html: str) -> str:
    found = re.search(r'href="/traces/([0-9a-f]{32})\?project=[^"]*" id="run-trace"', html)
    assert found is not None, html[-2000:]
    return found.group(1)


def _stored(site: Site, trace_id: str) -> Any:
    with site.engine().connect() as connection:
        rows = connection.execute(
            select(observations).where(
                observations.c.project_id == site.live.project_id, observations.c.trace_id == trace_id
            )
        ).all()
    assert len(rows) == 1
    return rows[0]


def _run(client: httpx.Client, **fields: str) -> httpx.Response:
    data = {"prompt": ANSWER, "csrf_token": csrf_of(client, "/prompts"), **fields}
    return client.post("/playground/run", data=data)


@pytest.mark.browser
def test_member_runs_a_version_on_the_fake_provider(watched: Watched, prompts_site: Site) -> None:
    page = sign_in(watched, prompts_site, role="member", next_path="/playground")
    page.get_by_label("Prompt").select_option(ANSWER)  # auto-submits
    expect(page.locator("#playground-version")).to_have_value("2")
    page.locator("#playground-version").select_option("1")
    expect(page.locator('textarea[data-variable="question"]')).to_be_visible()
    expect(page.locator('textarea[data-variable="customer"]')).to_have_count(0)  # v1 has one variable
    page.locator("#playground-version").select_option("2")
    expect(page.locator('textarea[data-variable="customer"]')).to_be_visible()
    page.locator('textarea[data-variable="question"]').fill(SCRIPT + " my refund")
    page.locator('textarea[data-variable="customer"]').fill("ACME")
    expect(page.get_by_role("textbox", name="Model")).to_have_attribute("placeholder", "gpt-4o-mini")
    page.get_by_role("button", name="Run").click()

    output = page.locator("#run-output")
    # A deadline, not a timing check: the first run imports openai, slow on a busy machine.
    expect(output).to_have_text(
        f"Answer {SCRIPT} my refund briefly for ACME.\nSign as Contrail.", timeout=60_000
    )
    expect(page.locator("#run-tokens")).to_contain_text(" in · ")
    expect(page.locator("#run-cost")).to_have_text(re.compile(r"^\$0\.0000\d+$"))
    expect(page.locator("#run-latency")).to_have_text(re.compile(r"\d ms$|\d s$"))
    assert page.locator("#run-result script").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "playground.png"), full_page=True)

    page.locator("#run-trace").click()
    expect(page.locator("#panel")).to_contain_text(f"{ANSWER} v2")
    expect(page.locator("#panel-output")).to_contain_text(SCRIPT)
    assert page.evaluate("window.__xss") is None
    assert watched.dialogs == []
    assert watched.csp_violations() == []


@pytest.mark.browser
def test_viewer_sees_the_playground_without_a_run_button(watched: Watched, prompts_site: Site) -> None:
    page = sign_in(watched, prompts_site, role="viewer", next_path=f"/playground?prompt={ANSWER}")
    expect(page.locator("#playground-prompt")).to_have_text(ANSWER)
    expect(page.get_by_role("button", name="Run")).to_have_count(0)
    expect(page.get_by_text("can look but not run")).to_be_visible()
    expect(page.locator('#playground-provider option[value="openai"]')).to_be_disabled()


def test_a_run_is_traced_with_the_prompt_version_and_cost(prompts_site: Site) -> None:
    with signed_in_client(prompts_site, "member") as member:
        response = _run(member, version="1", **{"var.question": "Where is my parcel?"}, temperature="0.7")
        assert response.status_code == 201, response.text[-2000:]
        assert "Where is my parcel?" in response.text
        row = _stored(prompts_site, _trace_of(response.text))
        htmx = member.post(
            "/playground/run",
            data={"prompt": ANSWER, "var.question": "q", "var.customer": "c", "csrf_token": csrf_of(member)},
            headers=HTMX,
        )
        assert htmx.status_code == 201 and "<html" not in htmx.text and 'id="run-output"' in htmx.text
    assert (row.prompt_name, row.prompt_version, row.type) == (ANSWER, 1, "generation")
    assert row.model == "gpt-4o-mini" and row.status == "ok"
    assert row.model_parameters == {"temperature": 0.7}
    assert row.input_tokens > 0 and row.output_tokens > 0
    assert row.total_cost_nanos > 0  # priced at ingest from the catalogue
    assert row.user_id == "member@example.com"
    assert row.metadata["playground_provider"] == "fake"


def test_chat_prompt_with_a_placeholder_runs(prompts_site: Site) -> None:
    history = '[{"role": "assistant", "content": "earlier answer"}]'
    with signed_in_client(prompts_site, "admin") as admin:
        data = {
            "prompt": HOSTILE,
            "var.name": "Dana",
            "var.question": "what now?",
            "placeholder.history": history,
            "csrf_token": csrf_of(admin),
        }
        response = admin.post("/playground/run", data=data)
        assert response.status_code == 201, response.text[-2000:]
        row = _stored(prompts_site, _trace_of(response.text))
        bad = admin.post("/playground/run", data={**data, "placeholder.history": "[1, 2]"})
        assert bad.status_code == 422 and "takes a list of messages" in bad.text
    assert (row.prompt_name, row.prompt_version) == (HOSTILE, 1)
    assert [m["role"] for m in unpack_json(row.input)] == ["system", "user", "assistant"]
    # The fake echoes the last user message, markup included: shown escaped, never as markup.
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt; what now?" in response.text
    assert "<img src=x" not in response.text


def test_bad_runs_are_refused_with_a_reason(prompts_site: Site) -> None:
    before = _count(prompts_site)
    filled = {"var.question": "q", "var.customer": "c"}
    with signed_in_client(prompts_site, "member") as member:
        for fields, message in [
            ({**filled, "temperature": "hot"}, "temperature must be a number"),
            ({**filled, "temperature": "5"}, "temperature must be between 0 and 2"),
            ({**filled, "temperature": "nan"}, "temperature must be between 0 and 2"),
            ({**filled, "max_tokens": "1.5"}, "max_tokens must be a whole number"),
            ({**filled, "max_tokens": "0"}, "max_tokens must be between 1"),
            ({**filled, "provider": "mystery"}, "Unknown provider"),
            ({**filled, "provider": "openai"}, "not available on this server"),
            ({**filled, "model": "m" * 201}, "at most 200 characters"),
            ({"var.question": "q"}, "Fill in the variable 'customer'"),
        ]:
            response = _run(member, **fields)
            assert response.status_code == 422, (fields, response.text[-1500:])
            assert message in html.unescape(response.text), (fields, message)
        problem = member.post(
            "/playground/run",
            data={"prompt": ANSWER, "temperature": "hot", **filled, "csrf_token": csrf_of(member)},
            headers=HTMX,
        )
        assert problem.status_code == 200 and 'id="run-problem"' in problem.text  # htmx swaps 2xx only
        assert _run(member, prompt="no-such-prompt").status_code == 404
        assert _run(member, version="99", **filled).status_code == 404
        assert _run(member, version="x", **filled).status_code == 404
        assert member.get("/playground?prompt=no-such-prompt").status_code == 404
        assert member.get(f"/playground?prompt={ANSWER}&version=abc").status_code == 404
        no_csrf = member.post("/playground/run", data={"prompt": ANSWER, **filled})
        assert no_csrf.status_code == 403
    with signed_in_client(prompts_site, "viewer") as viewer:
        refused = _run(viewer, **filled)
        assert refused.status_code == 403 and "does not allow" in refused.text
    assert _count(prompts_site) == before  # nothing was traced


def _count(site: Site) -> int:
    with site.engine().connect() as connection:
        rows = connection.execute(
            select(observations.c.id).where(
                observations.c.project_id == site.live.project_id, observations.c.prompt_name.is_not(None)
            )
        ).all()
    return len(rows)


@pytest.fixture
def endpoint_site(tmp_path: Path, fake_llm: FakeLLM) -> Iterator[Site]:
    """A server whose playground may call an OpenAI-compatible endpoint (the fake, over HTTP)."""
    server, live = start_contrail(
        f"sqlite:///{tmp_path / 'contrail.db'}",
        tmp_path / "home",
        playground_openai_base_url=fake_llm.openai_base_url,
        playground_openai_api_key="sk-playground-secret",
    )
    try:
        engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
        user = accounts.create_user(engine, "member@example.com", PASSWORD)
        accounts.set_role(engine, user.id, live.project_id, "member")
        site = Site(live, {"member": user.email})
        seed_prompts(site)
        yield site
    finally:
        server.stop()


def test_openai_compatible_endpoint_answers_and_errors_are_traced(
    endpoint_site: Site, fake_llm: FakeLLM
) -> None:
    fake_llm.script.on(prompt_contains="broken").error(500, "upstream exploded")
    fake_llm.script.on(prompt_contains="refund").respond(SCRIPT + " Refunds take 5 days.")
    filled = {"provider": "openai", "var.customer": "ACME", "model": "gpt-4o", "max_tokens": "50"}
    with signed_in_client(endpoint_site, "member") as member:
        page = member.get(f"/playground?prompt={ANSWER}")
        assert 'value="openai"' in page.text and 'value="openai" disabled' not in page.text
        answered = _run(member, **filled, **{"var.question": "my refund"})
        assert answered.status_code == 201, answered.text[-2000:]
        assert "&lt;script&gt;window.__xss=1" in answered.text and SCRIPT not in answered.text
        ok_row = _stored(endpoint_site, _trace_of(answered.text))
        failed = _run(member, **filled, **{"var.question": "broken"})
        assert failed.status_code == 201
        assert "The provider answered 500" in failed.text and 'id="run-error"' in failed.text
        error_row = _stored(endpoint_site, _trace_of(failed.text))
    sent = fake_llm.requests[0]
    assert sent.model == "gpt-4o"
    assert sent.headers["authorization"] == "[redacted]"  # it was sent; the fake's log hides it
    assert "sk-playground-secret" not in answered.text
    assert (ok_row.status, ok_row.model, ok_row.prompt_version) == ("ok", "gpt-4o", 2)
    assert ok_row.model_parameters == {"temperature": 0.5, "max_tokens": 50}  # temperature from config
    assert (error_row.status, error_row.is_error) == ("error", True)
    assert "upstream exploded" in error_row.status_message


def test_missing_openai_package_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    version = lookup_version_stub()
    run = playground.parse_run(version, {"var.x": "1"})
    endpoint = playground.endpoint_for("fake", None, None)
    monkeypatch.setitem(sys.modules, "openai", None)
    # A thread of its own: Playwright's event loop may be running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: asyncio.run(playground.call_model(endpoint, run, [], timeout_s=1)))
        with pytest.raises(
            playground.PlaygroundError, match=re.escape("pip install 'contrail-llmops[demo]'")
        ):
            future.result()


def lookup_version_stub() -> Any:
    from contrail.prompts.model import PromptVersion

    return PromptVersion(
        id="v",
        name="stub",
        version=1,
        type="text",
        prompt="{{x}}",
        config={},
        variables=["x"],
        labels=[],
        tags=[],
        commit_message=None,
        created_by=None,
        created_us=0,
        content_hash="",
    )
