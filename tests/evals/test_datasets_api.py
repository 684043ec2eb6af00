"""Datasets over HTTP on SQLite and PostgreSQL: names, versions, item history, paging, project scoping."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx
import pytest

from contrail.store.projects import create_key, create_project
from tests.conftest import LiveContrail


def _path(name: str, rest: str = "") -> str:
    return f"/api/v1/datasets/{quote(name, safe='')}{rest}"


def _create(client: httpx.Client, name: str, **fields: object) -> dict[str, object]:
    response = client.post("/api/v1/datasets", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _intruder(contrail: LiveContrail) -> httpx.Client:
    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_key(engine, create_project(engine, f"other-{uuid.uuid4().hex[:8]}").id)
    return httpx.Client(base_url=contrail.url, headers={"Authorization": f"Bearer {other.secret_key}"})


def test_create_get_list_and_conflicts(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        created = _create(client, "team/qa-v1.2_x", description="Golden set", metadata={"owner": "ana"})
        again = client.post("/api/v1/datasets", json={"name": "team/qa-v1.2_x"})
        fetched = client.get(_path("team/qa-v1.2_x")).json()
        _create(client, "alpha")
        names = [d["name"] for d in client.get("/api/v1/datasets").json()["data"]]
        first = client.get("/api/v1/datasets", params={"limit": 1}).json()
        second = client.get("/api/v1/datasets", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert created["version"] == 0 and created["item_count"] == 0
    assert created["metadata"] == {"owner": "ana"} and created["description"] == "Golden set"
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert fetched == created
    assert names == ["alpha", "team/qa-v1.2_x"]
    assert [d["name"] for d in first["data"] + second["data"]] == names


@pytest.mark.parametrize(
    "name",
    ["", "has space", "/leading", "trailing/", "a//b", "..", "a/../b", "x" * 201, "ünïcode", "semi;colon"],
)
def test_invalid_names_are_refused(sqlite_contrail: LiveContrail, name: str) -> None:
    with sqlite_contrail.client() as client:
        response = client.post("/api/v1/datasets", json={"name": name})
        listed = client.get("/api/v1/datasets").json()["data"]
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in ("invalid", "invalid_parameters")
    assert listed == []


def test_bad_bodies_get_clear_errors(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        _create(client, "ds")
        not_json = client.post(
            "/api/v1/datasets", content=b"{name: oops", headers={"content-type": "application/json"}
        )
        wrong_type = client.post(
            "/api/v1/datasets", content=b"name=x", headers={"content-type": "text/plain"}
        )
        extra = client.post("/api/v1/datasets", json={"name": "ok", "colour": "red"})
        items_not_list = client.post(_path("ds", "/items"), json={"items": {"input": 1}})
        items_missing = client.post(_path("ds", "/items"), json={"rows": []})
        bad_items = client.post(
            _path("ds", "/items"),
            json={
                "items": [{"input": "ok"}, {"expected_output": "no input"}, "text", {"input": 1, "id": "a b"}]
            },
        )
        dup_ids = client.post(
            _path("ds", "/items"), json={"items": [{"id": "a", "input": 1}, {"id": "a", "input": 2}]}
        )
        dataset = client.get(_path("ds")).json()
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    assert wrong_type.status_code == 415
    assert extra.status_code == 422
    assert items_not_list.status_code == 422
    assert items_missing.status_code == 422
    assert bad_items.status_code == 422
    assert [d["index"] for d in bad_items.json()["error"]["details"]] == [2, 3, 4]
    assert "'input' is required" in bad_items.json()["error"]["details"][0]["message"]
    assert dup_ids.status_code == 422 and "already used" in dup_ids.json()["error"]["details"][0]["message"]
    assert dataset["version"] == 0 and dataset["item_count"] == 0  # nothing half-applied


def test_upserts_make_versions_and_keep_history(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _create(client, "qa")
        first = client.post(
            _path("qa", "/items"),
            json={
                "items": [
                    {"id": "q1", "input": {"question": "2+2?"}, "expected_output": "4", "metadata": {"k": 1}},
                    {"input": "no id given", "expected_output": None},
                ]
            },
        ).json()
        second = client.post(
            _path("qa", "/items"),
            json={
                "items": [
                    {
                        "id": "q1",
                        "input": {"question": "2+2?"},
                        "expected_output": "four",
                        "metadata": {"k": 1},
                    },
                    {"id": first["items"][1], "input": "no id given"},
                    {"id": "q3", "input": [1, 2, 3]},
                ]
            },
        ).json()
        # Same contents, keys in another order: nothing changes, no new version.
        third = client.post(
            _path("qa", "/items"),
            json={
                "items": [
                    {
                        "metadata": {"k": 1},
                        "expected_output": "four",
                        "input": {"question": "2+2?"},
                        "id": "q1",
                    }
                ]
            },
        ).json()
        # JSON true is not 1.
        fourth = client.post(
            _path("qa", "/items"),
            json={
                "items": [
                    {
                        "id": "q1",
                        "input": {"question": "2+2?"},
                        "expected_output": "four",
                        "metadata": {"k": True},
                    }
                ]
            },
        ).json()
        archived = client.delete(_path("qa", "/items/q3"))
        archived_again = client.delete(_path("qa", "/items/q3"))
        dataset = client.get(_path("qa")).json()
        latest = client.get(_path("qa", "/items")).json()["data"]
        everything = client.get(_path("qa", "/items"), params={"status": "all"}).json()["data"]
        v1 = client.get(_path("qa", "/items"), params={"version": 1}).json()["data"]
        v2 = client.get(_path("qa", "/items"), params={"version": 2}).json()["data"]
        history = client.get(_path("qa", "/items/q1/history")).json()["data"]
        one = client.get(_path("qa", "/items/q1")).json()
        missing = client.get(_path("qa", "/items/nope"))
        future = client.get(_path("qa", "/items"), params={"version": 99})
        negative = client.get(_path("qa", "/items"), params={"version": -1})
    assert (first["version"], first["created"], first["updated"], first["unchanged"]) == (1, 2, 0, 0)
    assert first["items"][0] == "q1" and len(first["items"][1]) == 36
    assert (second["version"], second["created"], second["updated"], second["unchanged"]) == (2, 1, 1, 1)
    assert (third["version"], third["unchanged"], third["updated"]) == (2, 1, 0)
    assert (fourth["version"], fourth["updated"]) == (3, 1)
    assert archived.status_code == 204 and archived_again.status_code == 204
    assert dataset["version"] == 4 and dataset["item_count"] == 2
    assert [i["id"] for i in latest] == ["q1", first["items"][1]]
    assert [(i["id"], i["status"]) for i in everything][-1] == ("q3", "archived")
    assert [i["expected_output"] for i in v1] == ["4", None]
    assert [i["id"] for i in v2] == ["q1", first["items"][1], "q3"]
    assert v2[0]["expected_output"] == "four" and v2[0]["version"] == 2 and v2[2]["status"] == "active"
    assert [(h["version"], h["expected_output"], h["metadata"]) for h in history] == [
        (3, "four", {"k": True}),
        (2, "four", {"k": 1}),
        (1, "4", {"k": 1}),
    ]
    assert one["version"] == 3 and one["input"] == {"question": "2+2?"} and one["status"] == "active"
    assert missing.status_code == 404
    assert future.status_code == 422 and negative.status_code == 422


def test_an_archived_item_comes_back_when_posted_again(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        _create(client, "ds")
        client.post(_path("ds", "/items"), json={"items": [{"id": "a", "input": "x"}]})
        client.delete(_path("ds", "/items/a"))
        back = client.post(_path("ds", "/items"), json={"items": [{"id": "a", "input": "x"}]}).json()
        dataset = client.get(_path("ds")).json()
    assert (back["updated"], back["version"]) == (1, 3)
    assert dataset["item_count"] == 1


def test_items_page_in_insertion_order(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _create(client, "paged")
        ids = client.post(_path("paged", "/items"), json={"items": [{"input": i} for i in range(23)]}).json()[
            "items"
        ]
        client.post(_path("paged", "/items"), json={"items": [{"id": ids[5], "input": "changed"}]})
        seen: list[str] = []
        old: list[object] = []
        cursor = None
        while True:
            params: dict[str, object] = {"limit": 5, "version": 1}
            if cursor:
                params["cursor"] = cursor
            page = client.get(_path("paged", "/items"), params=params).json()
            seen += [i["id"] for i in page["data"]]
            old += [i["input"] for i in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad_cursor = client.get(_path("paged", "/items"), params={"cursor": "garbage!"})
        too_big = client.get(_path("paged", "/items"), params={"limit": 100_000})
    assert seen == ids
    assert old == list(range(23))
    assert bad_cursor.status_code == 422 and too_big.status_code == 422


def test_soft_delete_frees_the_name(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _create(client, "tmp")
        client.post(_path("tmp", "/items"), json={"items": [{"input": "old"}]})
        deleted = client.delete(_path("tmp"))
        gone = client.get(_path("tmp"))
        gone_items = client.post(_path("tmp", "/items"), json={"items": [{"input": 1}]})
        recreated = _create(client, "tmp")
        items = client.get(_path("tmp", "/items")).json()["data"]
        missing = client.delete(_path("never"))
    assert deleted.status_code == 204
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert gone_items.status_code == 404
    assert recreated["version"] == 0 and items == []
    assert missing.status_code == 404


def test_another_project_cannot_read_or_write(contrail: LiveContrail) -> None:
    with contrail.client() as owner, _intruder(contrail) as intruder:
        _create(owner, "private")
        owner.post(_path("private", "/items"), json={"items": [{"id": "s1", "input": "secret-marker"}]})
        attempts = [
            intruder.get(_path("private")),
            intruder.get(_path("private", "/items")),
            intruder.get(_path("private", "/items/s1")),
            intruder.get(_path("private", "/items/s1/history")),
            intruder.get(_path("private", "/export")),
            intruder.post(_path("private", "/items"), json={"items": [{"id": "s1", "input": "overwritten"}]}),
            intruder.post(_path("private", "/import"), content=b'{"input": 1}\n'),
            intruder.delete(_path("private", "/items/s1")),
            intruder.delete(_path("private")),
        ]
        listed = intruder.get("/api/v1/datasets").json()["data"]
        theirs = intruder.post("/api/v1/datasets", json={"name": "private"})
        mine = owner.get(_path("private", "/items/s1")).json()
        dataset = owner.get(_path("private")).json()
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert all("secret-marker" not in r.text for r in attempts)
    assert listed == []
    assert theirs.status_code == 201  # the same name in another project is another dataset
    assert mine["input"] == "secret-marker" and dataset["version"] == 1


def test_unknown_routes_and_unencoded_slashes(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        _create(client, "a/b")
        encoded = client.get(_path("a/b"))
        plain = client.get("/api/v1/datasets/a/b")
        items = client.get(_path("a/b", "/items"))
    assert encoded.status_code == 200 and encoded.json()["name"] == "a/b"
    assert plain.status_code == 404 and plain.json()["error"]["code"] == "not_found"
    assert items.status_code == 200
