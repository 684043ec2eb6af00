""" "Add to dataset" on the trace page: members add the trace's root input/output to an existing or new
dataset (CSRF-checked; a second add updates the same item); viewers see no form and are refused."""

from __future__ import annotations

import re

import httpx

from contrail.store import accounts
from tests.conftest import LiveContrail
from tests.evals.online_fixtures import ingest, trace_events, wait_for
from tests.ui.conftest import PASSWORD, Site, signed_in_client

HOSTILE = '<script>alert("xss")</script>'


def _site(live: LiveContrail) -> Site:
    engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
    emails = {}
    for role in ("member", "viewer"):
        user = accounts.create_user(engine, f"{role}@example.com", PASSWORD)
        accounts.set_role(engine, user.id, live.project_id, role)
        emails[role] = user.email
    return Site(live, emails)


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_member_adds_a_trace_to_a_new_then_existing_dataset(sqlite_contrail: LiveContrail) -> None:
    trace_id = f"{7:032x}"
    with sqlite_contrail.client() as api:
        ingest(api, trace_events(7, f"Paris {HOSTILE}"))
        wait_for(lambda: api.get(f"/api/v1/traces/{trace_id}").status_code == 200, what="the trace")
        assert api.post("/api/v1/datasets", json={"name": "team/existing"}).status_code == 201
    site = _site(sqlite_contrail)
    pid = sqlite_contrail.project_id
    action = f"/traces/{trace_id}/add-to-dataset?project={pid}"
    with signed_in_client(site, "member") as ui:
        page = ui.get(f"/traces/{trace_id}")
        token = _csrf(page)
        options = ui.get("/evaluations/dataset-options")
        no_csrf = ui.post(action, data={"dataset": "golden/new", "create": "true"})
        missing = ui.post(action, data={"dataset": "golden/new", "csrf_token": token})
        created = ui.post(action, data={"dataset": "golden/new", "create": "true", "csrf_token": token})
        again = ui.post(action, data={"dataset": "golden/new", "create": "true", "csrf_token": token})
        existing = ui.post(action, data={"dataset": "team/existing", "csrf_token": token})
        unknown_trace = ui.post(
            f"/traces/{'f' * 32}/add-to-dataset", data={"dataset": "team/existing", "csrf_token": token}
        )
        blank = ui.post(action, data={"dataset": "", "csrf_token": token})
        item_page = ui.get(created.headers["location"])
    assert 'id="add-to-dataset"' in page.text and f'action="/traces/{trace_id}/add-to-dataset' in page.text
    assert '<option value="team/existing">' in options.text
    assert no_csrf.status_code == 403
    assert missing.status_code == 404 and "golden/new" in missing.text
    assert created.status_code == 303 and created.headers["location"].startswith(
        "/datasets/golden%2Fnew/items/"
    )
    assert again.status_code == 303 and again.headers["location"] == created.headers["location"]
    assert existing.status_code == 303
    assert unknown_trace.status_code == 422
    assert blank.status_code == 422
    assert item_page.status_code == 200 and HOSTILE not in item_page.text
    with sqlite_contrail.client() as api:
        items = api.get("/api/v1/datasets/golden%2Fnew/items").json()["data"]
        other = api.get("/api/v1/datasets/team%2Fexisting/items").json()["data"]
    # One item (the second add updated it), made from the root observation.
    assert len(items) == 1 and len(other) == 1
    assert items[0]["input"] == {"question": "q 7"} and items[0]["expected_output"] == f"Paris {HOSTILE}"
    assert items[0]["source_trace_id"] == trace_id


def test_viewer_sees_no_form_and_is_refused(sqlite_contrail: LiveContrail) -> None:
    trace_id = f"{8:032x}"
    with sqlite_contrail.client() as api:
        ingest(api, trace_events(8, "Paris"))
        wait_for(lambda: api.get(f"/api/v1/traces/{trace_id}").status_code == 200, what="the trace")
        assert api.post("/api/v1/datasets", json={"name": "golden"}).status_code == 201
    with signed_in_client(_site(sqlite_contrail), "viewer") as ui:
        page = ui.get(f"/traces/{trace_id}")
        refused = ui.post(
            f"/traces/{trace_id}/add-to-dataset", data={"dataset": "golden", "csrf_token": _csrf(page)}
        )
    assert page.status_code == 200 and 'id="add-to-dataset"' not in page.text
    assert refused.status_code == 403
    with sqlite_contrail.client() as api:
        assert api.get("/api/v1/datasets/golden/items").json()["data"] == []
