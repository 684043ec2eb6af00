"""Every endpoint is scoped to the caller's project: another project's key sees nothing of ours."""

from __future__ import annotations

import re
import uuid

import httpx

from contrail.store.projects import create_key, create_project
from tests.conftest import LiveContrail

TRACE = "d" * 32
SECRET_MARK = "tenant-a-secret-marker"
SECRET_NAME = "tenant-a-secret-name"
OPEN_PATHS = {"/api/v1/health"}


def _seed(client: httpx.Client) -> None:
    event = {
        "id": "e1",
        "type": "observation",
        "body": {
            "trace_id": TRACE,
            "span_id": "e" * 16,
            "name": SECRET_MARK,
            "start_us": 1_760_000_000_000_000,
            "user_id": "user-a",
            "session_id": "session-a",
            "input": SECRET_MARK,
            "tags": ["t-a"],
        },
    }
    score = {"id": "s1", "type": "score", "body": {"trace_id": TRACE, "name": "quality", "value": 1}}
    assert client.post("/api/v1/ingest", json={"batch": [event, score]}).status_code == 207


def _seed_objects(client: httpx.Client) -> dict[str, str]:
    """One of each kind of object the project owns; returns the values of their path parameters."""
    prompt = {"name": SECRET_NAME, "type": "text", "prompt": f"{SECRET_MARK} {{{{topic}}}}"}
    assert client.post("/api/v1/prompts", json=prompt | {"labels": ["production"]}).status_code == 201
    assert client.post("/api/v1/prompts", json=prompt | {"prompt": "v2 {{topic}}"}).status_code == 201
    assert client.post("/api/v1/datasets", json={"name": SECRET_NAME}).status_code == 201
    item = {"id": "item-1", "input": SECRET_MARK, "expected_output": SECRET_MARK}
    added = client.post(f"/api/v1/datasets/{SECRET_NAME}/items", json={"items": [item]})
    assert added.status_code == 200, added.text
    more = [{"id": f"item-{i}", "input": i} for i in (2, 3)]
    assert client.post(f"/api/v1/datasets/{SECRET_NAME}/items", json={"items": more}).status_code == 200
    experiment = client.post("/api/v1/experiments", json={"name": SECRET_NAME, "dataset": SECRET_NAME})
    assert experiment.status_code == 201, experiment.text
    second = client.post("/api/v1/experiments", json={"name": f"{SECRET_NAME}-2", "dataset": SECRET_NAME})
    assert second.status_code == 201, second.text
    # Judge and human scores on three items, so the experiment's calibration answers its owner.
    labels = [{"name": "judge", "value": 1}, {"name": "human", "value": 1}]
    results = [{"item_id": f"item-{i}", "scores": labels} for i in (1, 2, 3)]
    run = client.post(f"/api/v1/experiments/{experiment.json()['id']}/results", json={"results": results})
    assert run.status_code == 200, run.text
    rule = {"name": SECRET_NAME, "sampling_percent": 100, "scorer": {"type": "contains", "value": "x"}}
    created_rule = client.post("/api/v1/eval-rules", json=rule)
    assert created_rule.status_code == 201, created_rule.text
    return {
        "trace_id": TRACE,
        "session_id": "session-a",
        "name": SECRET_NAME,
        "item_id": "item-1",
        "experiment_id": experiment.json()["id"],
        "second_experiment_id": second.json()["id"],
        "rule_id": created_rule.json()["id"],
    }


def _leaves(value: object) -> list[object]:
    """Every counted or summed value; ``source`` only says which tables answered."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() if k != "source" for leaf in _leaves(v)]
    return [value]


def _required_params(path: str, values: dict[str, str]) -> dict[str, str]:
    """Query parameters some endpoints need to answer 200 for their owner."""
    if path.endswith("/diff"):
        return {"from": "1", "to": "2"}
    if path.endswith("/calibration"):
        return {"judge": "judge", "human": "human"}
    if path.endswith("/experiments/compare"):
        return {"baseline": values["experiment_id"], "candidate": values["second_experiment_id"]}
    return {}


def test_another_projects_key_sees_nothing_on_any_endpoint(contrail: LiveContrail) -> None:
    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_key(engine, create_project(engine, f"other-{uuid.uuid4().hex[:8]}").id)
    with (
        contrail.client() as owner,
        httpx.Client(
            base_url=contrail.url, headers={"Authorization": f"Bearer {other.secret_key}"}
        ) as intruder,
    ):
        _seed(owner)
        values = _seed_objects(owner)
        paths = owner.get("/openapi.json").json()["paths"]
        checked = 0
        for path, operations in paths.items():
            if "get" not in operations or path in OPEN_PATHS or not path.startswith("/api/"):
                continue
            url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
            params = {"q": SECRET_MARK} if "traces" in path or "observations" in path else {}
            params |= _required_params(path, values)
            mine = owner.get(url, params=params)
            theirs = intruder.get(url, params=params)
            assert mine.status_code == 200, (path, mine.text)
            assert theirs.status_code in (200, 404), (path, theirs.text)
            for secret in (TRACE, SECRET_MARK, SECRET_NAME, "user-a", "session-a", contrail.project_id):
                if secret in url:
                    continue  # a 404 may echo what the caller itself sent
                assert secret not in theirs.text, (path, theirs.text)
            if theirs.status_code == 200 and "data" in theirs.json():
                data = theirs.json()["data"]
                if isinstance(data, dict):  # a summary: nothing counted, nothing summed
                    assert all(v in (0, None, "0", [], {}) for v in _leaves(data)), (path, data)
                else:
                    assert data == [], path
            checked += 1
        whoami = intruder.get("/api/v1/whoami").json()
    assert checked >= 30
    assert whoami["project_id"] != contrail.project_id


def test_writes_with_another_key_land_in_that_project_only(contrail: LiveContrail) -> None:
    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_key(engine, create_project(engine, f"other-{uuid.uuid4().hex[:8]}").id)
    with (
        contrail.client() as owner,
        httpx.Client(
            base_url=contrail.url, headers={"Authorization": f"Bearer {other.secret_key}"}
        ) as intruder,
    ):
        _seed(owner)
        # Same trace and span ids from another project: a separate trace, never an overwrite.
        event = {
            "id": "e2",
            "type": "observation",
            "body": {
                "trace_id": TRACE,
                "span_id": "e" * 16,
                "name": "intruder",
                "start_us": 1_760_000_000_000_000,
            },
        }
        assert intruder.post("/api/v1/ingest", json={"batch": [event]}).status_code == 207
        mine = owner.get(f"/api/v1/traces/{TRACE}").json()
        theirs = intruder.get(f"/api/v1/traces/{TRACE}").json()
    assert mine["name"] == SECRET_MARK
    assert theirs["name"] == "intruder"
    assert [s["name"] for s in theirs["scores"]] == []
