"""The native prompt API on a live server, on both dialects: shapes, filters, and every bad input."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import LiveContrail

CHAT = [
    {"role": "system", "content": "You answer about {{topic}}."},
    {"type": "placeholder", "name": "history"},
    {"role": "user", "content": "{{question}}"},
]


def _create(client: httpx.Client, **body: object) -> httpx.Response:
    return client.post("/api/v1/prompts", json={"name": "support/triage", "prompt": "Hi {{name}}", **body})


def test_create_get_list_versions_labels_diff_delete(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        first = _create(client, config={"model": "gpt-4o-mini"}, labels=["production"], tags=["support"])
        assert first.status_code == 201, first.text
        body = first.json()
        assert (body["version"], body["variables"], body["labels"]) == (1, ["name"], ["latest", "production"])
        assert body["created_by"] == contrail.public_key and body["created_at"].endswith("Z")
        second = _create(client, prompt="Hello {{name}}!", commit_message="friendlier")
        assert second.json()["version"] == 2
        # Names with slashes work raw and URL-encoded.
        assert client.get("/api/v1/prompts/support/triage").json()["version"] == 1
        assert (
            client.get("/api/v1/prompts/support%2Ftriage", params={"label": "latest"}).json()["version"] == 2
        )
        assert client.get("/api/v1/prompts/support/triage", params={"version": 2}).json()[
            "commit_message"
        ] == ("friendlier")
        listed = client.get("/api/v1/prompts", params={"name_prefix": "support/"}).json()
        assert [(p["name"], p["versions"], p["labels"]) for p in listed["data"]] == [
            ("support/triage", [1, 2], {"latest": 2, "production": 1})
        ]
        assert client.get("/api/v1/prompts", params={"tag": "nope"}).json()["data"] == []
        versions = client.get("/api/v1/prompts/support/triage/versions").json()["data"]
        assert [v["version"] for v in versions] == [2, 1]
        moved = client.patch(
            "/api/v1/prompts/support/triage/labels", json={"labels": {"production": 2, "staging": 1}}
        )
        assert moved.json()["labels"] == {"latest": 2, "production": 2, "staging": 1}
        history = client.get("/api/v1/prompts/support/triage/labels/history").json()["data"]
        assert (history[0]["label"], history[0]["from_version"], history[0]["to_version"]) in {
            ("production", 1, 2),
            ("staging", None, 1),
        }
        assert history[0]["actor"] == contrail.public_key
        diff = client.get("/api/v1/prompts/support/triage/diff", params={"from": 1, "to": 2}).json()
        assert diff["changed"] is True
        assert {"kind": "added", "text": "Hello {{name}}!"} in diff["prompt"]
        assert (
            client.delete("/api/v1/prompts/support/triage/versions/1").status_code == 409
        )  # staging holds it
        client.patch("/api/v1/prompts/support/triage/labels", json={"labels": {"staging": None}})
        assert client.delete("/api/v1/prompts/support/triage/versions/1").status_code == 204
        assert client.get("/api/v1/prompts/support/triage", params={"version": 1}).status_code == 404
        assert client.delete("/api/v1/prompts/support/triage").status_code == 204
        assert client.get("/api/v1/prompts/support/triage", params={"label": "latest"}).status_code == 404
        assert client.get("/api/v1/prompts").json()["data"] == []


def test_chat_prompt_round_trip(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        created = client.post(
            "/api/v1/prompts", json={"name": "chat", "type": "chat", "prompt": CHAT, "labels": ["production"]}
        )
        assert created.status_code == 201, created.text
        fetched = client.get("/api/v1/prompts/chat").json()
    assert fetched["prompt"] == CHAT
    assert fetched["variables"] == ["topic", "question"]


def _assert_error(response: httpx.Response, status: int, code: str, fragment: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert fragment in error["message"]


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        ({"prompt": "Hi {{name"}, 422, "invalid_prompt", "position 3"),
        ({"prompt": "Hi name}}"}, 422, "invalid_prompt", "position 7"),
        ({"name": "bad name"}, 422, "invalid_prompt", "letters, digits"),
        ({"name": "a/../b"}, 422, "invalid_prompt", "'..'"),
        ({"name": "x" * 201}, 422, "invalid_prompt", "1 to 200"),
        ({"labels": ["Prod!"]}, 422, "invalid_prompt", "lowercase"),
        ({"labels": ["latest"]}, 422, "invalid_prompt", "latest"),
        ({"type": "chat", "prompt": "not a list"}, 422, "invalid_prompt", "non-empty list"),
        ({"type": "chat", "prompt": [{"role": "user"}]}, 422, "invalid_prompt", "message 0"),
        ({"config": [1, 2]}, 422, "invalid_parameters", "invalid"),
        ({"prompt": "x" * 1_000_001}, 413, "prompt_too_large", "at most 1,000,000"),
    ],
)
def test_bad_creates_get_clear_errors(
    sqlite_contrail: LiveContrail, body: dict[str, object], status: int, code: str, fragment: str
) -> None:
    with sqlite_contrail.client() as client:
        response = _create(client, **body)
        _assert_error(response, status, code, fragment)
        assert client.get("/api/v1/prompts").json()["data"] == []  # nothing half-created


def test_lookups_that_miss_are_404_and_bad_queries_422(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        _create(client)
        _assert_error(client.get("/api/v1/prompts/support/triage"), 404, "not_found", "label 'production'")
        _assert_error(
            client.get("/api/v1/prompts/support/triage?label=staging"), 404, "not_found", "'staging'"
        )
        _assert_error(
            client.get("/api/v1/prompts/support/triage?version=7"), 404, "not_found", "no version 7"
        )
        _assert_error(client.get("/api/v1/prompts/missing/prompt"), 404, "not_found", "No prompt named")
        _assert_error(
            client.get("/api/v1/prompts/support/triage?version=1&label=latest"),
            422,
            "invalid_prompt",
            "not both",
        )
        _assert_error(
            client.patch("/api/v1/prompts/support/triage/labels", json={"labels": {"production": 9}}),
            404,
            "not_found",
            "no version 9",
        )
        _assert_error(
            client.patch("/api/v1/prompts/support/triage/labels", json={"labels": {"BAD": 1}}),
            422,
            "invalid_prompt",
            "lowercase",
        )
        _assert_error(
            client.get("/api/v1/prompts/support/triage/diff?from=1&to=5"), 404, "not_found", "no version 5"
        )
        _assert_error(client.get("/api/v1/prompts?cursor=garbage"), 422, "invalid_cursor", "cursor")
        _assert_error(
            client.delete("/api/v1/prompts/support/triage/versions/1"), 409, "conflict", "only version"
        )
        chat = [{"role": "user", "content": "x"}]
        _assert_error(_create(client, type="chat", prompt=chat), 409, "conflict", "text prompt")


def test_prompts_are_scoped_to_the_callers_project(sqlite_contrail: LiveContrail) -> None:
    from contrail.store.projects import create_key, create_project

    engine = sqlite_contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_project(engine, f"other-{uuid.uuid4().hex[:8]}")
    issued = create_key(engine, other.id)
    with sqlite_contrail.client() as mine:
        _create(mine, labels=["production"])
    with httpx.Client(
        base_url=sqlite_contrail.url, headers={"Authorization": f"Bearer {issued.secret_key}"}
    ) as theirs:
        assert theirs.get("/api/v1/prompts/support/triage").status_code == 404
        assert theirs.get("/api/v1/prompts").json()["data"] == []
        assert theirs.delete("/api/v1/prompts/support/triage").status_code == 404
    with sqlite_contrail.client() as mine:
        assert mine.get("/api/v1/prompts/support/triage").status_code == 200


def test_openapi_documents_the_prompt_routes(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/prompts", "/api/v1/prompts/{name}", "/api/public/v2/prompts/{name}"} <= set(paths)
    assert "413" in paths["/api/v1/prompts"]["post"]["responses"]
