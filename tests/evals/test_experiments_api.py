"""Experiments over HTTP on SQLite and PostgreSQL: resume, results upsert, summaries, scores on traces,
comparison, bad input and project scoping."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from contrail.store.projects import create_key, create_project
from tests.conftest import LiveContrail

TRACE = "a1" * 16


def _dataset(client: httpx.Client, name: str, n: int = 4) -> list[str]:
    assert client.post("/api/v1/datasets", json={"name": name}).status_code == 201
    items = [{"id": f"item-{i}", "input": {"q": i}, "expected_output": str(i)} for i in range(n)]
    response = client.post(f"/api/v1/datasets/{quote(name, safe='')}/items", json={"items": items})
    ids: list[str] = response.json()["items"]
    return ids


def _experiment(client: httpx.Client, name: str, dataset: str, **fields: Any) -> httpx.Response:
    return client.post("/api/v1/experiments", json={"name": name, "dataset": dataset, **fields})


def _result(item_id: str, score: float | None, **fields: Any) -> dict[str, Any]:
    scores = [{"name": "exact", "value": score}] if score is not None else []
    return {"item_id": item_id, "output": f"out {item_id}", "scores": scores, **fields}


def test_experiment_lifecycle_and_summary(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        ids = _dataset(client, "team/qa")
        created = _experiment(
            client, "gpt-4o-mini baseline", "team/qa", target={"kind": "prompt", "model": "gpt-4o-mini"}
        )
        experiment_id = created.json()["id"]
        url = f"/api/v1/experiments/{experiment_id}"
        first = client.post(
            url + "/results",
            json={
                "results": [
                    _result(ids[0], 1.0, latency_ms=100, cost_usd="0.0012", input_tokens=10, output_tokens=5),
                    _result(ids[1], 0.0, latency_ms=300, cost_usd="0.0008"),
                    {
                        "item_id": ids[2],
                        "output": None,
                        "error": "TimeoutError: provider took too long",
                        "latency_ms": 200,
                        "scores": [{"name": "exact", "error": "no output to score"}],
                    },
                ]
            },
        )
        # Re-running an item replaces its result.
        rerun = client.post(url + "/results", json={"results": [_result(ids[1], 1.0, latency_ms=250)]})
        done = client.patch(url, json={"status": "completed"})
        fetched = client.get(url).json()
        results = client.get(url + "/results").json()["data"]
        listed = client.get("/api/v1/experiments", params={"dataset": "team/qa"}).json()["data"]
    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["dataset"], body["dataset_version"], body["summary"]) == (
        "running",
        "team/qa",
        1,
        None,
    )
    assert body["target"] == {"kind": "prompt", "model": "gpt-4o-mini"} and body["finished_at"] is None
    assert first.json() == {"written": 3} and rerun.json() == {"written": 1}
    assert done.json()["status"] == "completed" and done.json()["finished_at"] is not None
    summary = fetched["summary"]
    assert (summary["items"], summary["completed"], summary["errors"]) == (4, 2, 1)
    assert summary["scores"] == {"exact": {"mean": 1.0, "n": 2, "errors": 1}}
    assert (summary["latency_p50_ms"], summary["latency_p95_ms"]) == (200.0, 250.0)
    assert Decimal(summary["cost_usd_total"]) == Decimal("0.0012")
    assert [r["item_id"] for r in results] == ids[:3]
    assert results[0]["input"] == {"q": 0} and results[0]["expected_output"] == "0"
    assert results[0]["cost_usd"] == "0.0012" and results[0]["latency_ms"] == 100
    assert results[1]["output"] == f"out {ids[1]}" and results[1]["cost_usd"] is None
    assert results[2]["error"].startswith("TimeoutError") and results[2]["scores"][0]["error"]
    assert [e["id"] for e in listed] == [experiment_id]


def test_names_are_unique_per_dataset_unless_resuming(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        _dataset(client, "a")
        _dataset(client, "b")
        first = _experiment(client, "run", "a")
        same_name = _experiment(client, "run", "a")
        resumed = _experiment(client, "run", "a", resume=True)
        other_dataset = _experiment(client, "run", "b")
        fresh_resume = _experiment(client, "new", "a", resume=True)
    assert first.status_code == 201
    assert same_name.status_code == 409 and "resume" in same_name.json()["error"]["message"]
    assert resumed.status_code == 200 and resumed.json()["id"] == first.json()["id"]
    assert other_dataset.status_code == 201
    assert fresh_resume.status_code == 201


def test_results_answer_the_items_of_the_pinned_version(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        ids = _dataset(client, "pinned", n=2)
        experiment_id = _experiment(client, "v1", "pinned", dataset_version=1).json()["id"]
        client.post("/api/v1/datasets/pinned/items", json={"items": [{"id": ids[0], "input": "edited"}]})
        added = client.post("/api/v1/datasets/pinned/items", json={"items": [{"input": "later"}]}).json()
        written = client.post(
            f"/api/v1/experiments/{experiment_id}/results", json={"results": [_result(ids[0], 1.0)]}
        )
        late = client.post(
            f"/api/v1/experiments/{experiment_id}/results",
            json={"results": [_result(added["items"][0], 1.0)]},
        )
        results = client.get(f"/api/v1/experiments/{experiment_id}/results").json()["data"]
        summary = client.get(f"/api/v1/experiments/{experiment_id}").json()["summary"]
    assert written.status_code == 200
    assert late.status_code == 422 and added["items"][0] in late.text
    assert results[0]["input"] == {"q": 0}  # as of version 1, not "edited"
    assert summary["items"] == 2


def test_scores_land_on_the_trace(contrail: LiveContrail) -> None:
    event = {
        "id": "e1",
        "type": "observation",
        "body": {"trace_id": TRACE, "span_id": "b2" * 8, "name": "target", "start_us": 1_760_000_000_000_000},
    }
    with contrail.client() as client:
        assert client.post("/api/v1/ingest", json={"batch": [event]}).status_code == 207
        ids = _dataset(client, "traced", n=1)
        experiment_id = _experiment(client, "traced-run", "traced").json()["id"]
        result = {
            "item_id": ids[0],
            "trace_id": TRACE,
            "output": "4",
            "scores": [
                {"name": "exact", "value": 1.0, "reason": "matches"},
                {"name": "tone", "label": "friendly"},
                {"name": "safe", "passed": True},
                {"name": "judge", "error": "unparseable answer"},
            ],
        }
        url = f"/api/v1/experiments/{experiment_id}/results"
        client.post(url, json={"results": [result]})
        client.post(url, json={"results": [result]})  # a retry does not duplicate them
        scores = client.get(f"/api/v1/traces/{TRACE}").json()["scores"]
    by_name = {s["name"]: s for s in scores}
    assert sorted(by_name) == ["exact", "safe", "tone"] and len(scores) == 3
    assert by_name["exact"]["value"] == 1.0 and by_name["exact"]["comment"] == "matches"
    assert by_name["tone"]["string_value"] == "friendly" and by_name["tone"]["data_type"] == "CATEGORICAL"
    assert by_name["safe"]["data_type"] == "BOOLEAN" and by_name["safe"]["value"] == 1.0
    assert {s["source"] for s in scores} == {"EVAL"}
    assert by_name["exact"]["metadata"]["experiment_id"] == experiment_id


def test_bad_results_and_parameters_are_refused(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        ids = _dataset(client, "ds", n=2)
        experiment_id = _experiment(client, "run", "ds").json()["id"]
        url = f"/api/v1/experiments/{experiment_id}"
        bad = {
            "unknown item": [_result("nope", 1.0), _result("also-nope", 1.0)],
            "duplicate item": [_result(ids[0], 1.0), _result(ids[0], 0.0)],
            "bad trace id": [_result(ids[0], 1.0, trace_id="not-hex")],
            "negative latency": [_result(ids[0], 1.0, latency_ms=-5)],
            "negative cost": [_result(ids[0], 1.0, cost_usd="-1")],
            "cost not a number": [_result(ids[0], 1.0, cost_usd="lots")],
            "duplicate score": [
                {"item_id": ids[0], "scores": [{"name": "x", "value": 1}, {"name": "x", "value": 2}]}
            ],
            "unknown field": [{"item_id": ids[0], "colour": "red"}],
        }
        answers = {k: client.post(url + "/results", json={"results": v}) for k, v in bad.items()}
        not_json = client.post(
            url + "/results", content=b"results=1", headers={"content-type": "application/json"}
        )
        bad_status = client.patch(url, json={"status": "paused"})
        missing = client.get("/api/v1/experiments/" + str(uuid.uuid4()))
        missing_dataset = _experiment(client, "x", "no-such-dataset")
        future_version = _experiment(client, "x", "ds", dataset_version=9)
        control_name = _experiment(client, "bad\nname", "ds")
        huge_limit = client.get(url + "/results", params={"limit": 0})
        bad_cursor = client.get(url + "/results", params={"cursor": "%%%"})
        summary = client.get(url).json()["summary"]
    assert {k: r.status_code for k, r in answers.items()} == {k: 422 for k in bad}
    assert "nope" in answers["unknown item"].json()["error"]["message"]
    assert answers["unknown item"].json()["error"]["details"] == {"unknown_item_ids": ["nope", "also-nope"]}
    assert not_json.status_code == 400
    assert bad_status.status_code == 422
    assert missing.status_code == 404
    assert missing_dataset.status_code == 404
    assert future_version.status_code == 422
    assert control_name.status_code == 422
    assert huge_limit.status_code == 422 and bad_cursor.status_code == 422
    assert summary["results"] == 0  # nothing half-written


def _run(client: httpx.Client, name: str, dataset: str, ids: list[str], values: list[float]) -> str:
    experiment_id: str = _experiment(client, name, dataset).json()["id"]
    results = [_result(i, v) for i, v in zip(ids, values, strict=True)]
    client.post(f"/api/v1/experiments/{experiment_id}/results", json={"results": results})
    return experiment_id


def test_compare_finds_a_regression(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        ids = _dataset(client, "cmp", n=30)
        baseline = _run(client, "base", "cmp", ids, [1.0] * 30)
        candidate = _run(client, "cand", "cmp", ids, [1.0] * 20 + [0.0] * 10)
        answer = client.get(
            "/api/v1/experiments/compare", params={"baseline": baseline, "candidate": candidate}
        )
        one_metric = client.get(
            "/api/v1/experiments/compare",
            params={"baseline": baseline, "candidate": candidate, "metric": "exact"},
        )
        unknown_metric = client.get(
            "/api/v1/experiments/compare",
            params={"baseline": baseline, "candidate": candidate, "metric": "nope"},
        )
        itself = client.get(
            "/api/v1/experiments/compare", params={"baseline": baseline, "candidate": baseline}
        )
        other_ids = _dataset(client, "other", n=3)
        elsewhere = _run(client, "else", "other", other_ids, [1.0, 1.0, 1.0])
        across = client.get(
            "/api/v1/experiments/compare", params={"baseline": baseline, "candidate": elsewhere}
        )
        missing = client.get("/api/v1/experiments/compare", params={"baseline": baseline})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["baseline"], body["candidate"], body["regressed"]) == (baseline, candidate, ["exact"])
    row = body["metrics"][0]
    assert row["metric"] == "exact" and row["n_paired"] == 30 and row["significant"] is True
    assert row["diff"] == pytest.approx(-1 / 3) and row["ci_high"] < 0
    assert {i["item_id"] for i in row["regressed_items"]} == set(ids[20:])
    assert one_metric.json()["metrics"] == body["metrics"]
    assert unknown_metric.status_code == 422
    assert itself.status_code == 422 and across.status_code == 422 and missing.status_code == 422


def test_another_project_cannot_see_or_touch_experiments(contrail: LiveContrail) -> None:
    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_key(engine, create_project(engine, f"other-{uuid.uuid4().hex[:8]}").id)
    with (
        contrail.client() as owner,
        httpx.Client(
            base_url=contrail.url, headers={"Authorization": f"Bearer {other.secret_key}"}
        ) as intruder,
    ):
        ids = _dataset(owner, "private", n=2)
        experiment_id = _run(owner, "secret-run", "private", ids, [1.0, 0.0])
        second = _run(owner, "secret-run-2", "private", ids, [1.0, 1.0])
        url = f"/api/v1/experiments/{experiment_id}"
        attempts = [
            intruder.get(url),
            intruder.get(url + "/results"),
            intruder.patch(url, json={"status": "failed"}),
            intruder.post(url + "/results", json={"results": [_result(ids[0], 0.5)]}),
            intruder.get(
                "/api/v1/experiments/compare", params={"baseline": experiment_id, "candidate": second}
            ),
            _experiment(intruder, "x", "private"),
            intruder.get("/api/v1/experiments", params={"dataset": "private"}),
        ]
        listed = intruder.get("/api/v1/experiments").json()["data"]
        mine = owner.get(url).json()
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    assert all("secret-run" not in r.text for r in attempts)
    assert listed == []
    assert mine["status"] == "running" and mine["summary"]["scores"]["exact"]["mean"] == 0.5


def test_experiment_and_result_lists_page(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        ids = _dataset(client, "paged", n=7)
        experiment_ids = [_run(client, f"run-{n}", "paged", ids, [1.0] * 7) for n in range(3)]
        pages, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = client.get(f"/api/v1/experiments/{experiment_ids[0]}/results", params=params).json()
            pages.append([r["item_id"] for r in page["data"]])
            cursor = page["next_cursor"]
            if not cursor:
                break
        first = client.get("/api/v1/experiments", params={"limit": 2}).json()
        rest = client.get("/api/v1/experiments", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == sorted(ids)
    assert [e["id"] for e in first["data"] + rest["data"]] == experiment_ids[::-1]
