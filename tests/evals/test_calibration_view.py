"""Judge calibration over HTTP on SQLite and PostgreSQL: kappa and Spearman against scipy as the oracle,
human labels from a second experiment score or from annotations on the traces (project-scoped), clear
refusals for too few pairs and bad names, and the UI page with hostile labels escaped."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from scipy import stats
from scipy.stats.contingency import crosstab

from contrail.store.projects import create_key, create_project
from tests.conftest import LiveContrail
from tests.evals.online_fixtures import wait_for

JUDGE = ["good", "good", "bad", "bad", "good", "meh", "bad", "good", "meh", "good"]
HUMAN = ["good", "bad", "bad", "bad", "good", "meh", "good", "good", "bad", "good"]
JUDGE_NUM = [4.0, 2.0, 5.0, 1.0, 3.0, 3.5, 2.5, 4.5]
HUMAN_NUM = [5.0, 1.0, 4.0, 2.0, 3.0, 4.0, 2.0, 3.0]


def _kappa(judge: list[str], human: list[str]) -> float:
    counts = crosstab(human, judge).count.astype(float)
    n = counts.sum()
    observed = np.trace(counts) / n
    expected = float((counts.sum(axis=1) / n) @ (counts.sum(axis=0) / n))
    return float((observed - expected) / (1 - expected))


def _experiment(client: httpx.Client, dataset: str, n: int, results: list[dict[str, Any]]) -> str:
    assert client.post("/api/v1/datasets", json={"name": dataset}).status_code == 201
    items = [{"id": f"item-{i}", "input": {"q": i}} for i in range(n)]
    assert client.post(f"/api/v1/datasets/{dataset}/items", json={"items": items}).status_code == 200
    experiment_id: str = client.post("/api/v1/experiments", json={"name": "run", "dataset": dataset}).json()[
        "id"
    ]
    response = client.post(f"/api/v1/experiments/{experiment_id}/results", json={"results": results})
    assert response.status_code == 200, response.text
    return experiment_id


def _calibration(client: httpx.Client, experiment_id: str, **params: str) -> httpx.Response:
    return client.get(f"/api/v1/experiments/{experiment_id}/calibration", params=params)


def test_categorical_labels_in_the_experiment_give_cohens_kappa(contrail: LiveContrail) -> None:
    results = [
        {
            "item_id": f"item-{i}",
            "output": "x",
            "scores": [{"name": "judge", "label": j}, {"name": "human", "label": h}],
        }
        for i, (j, h) in enumerate(zip(JUDGE, HUMAN, strict=True))
    ]
    # A judge error on one more item is skipped and counted, not turned into a label.
    results.append(
        {
            "item_id": "item-10",
            "scores": [{"name": "judge", "error": "rate limited"}, {"name": "human", "label": "good"}],
        }
    )
    with contrail.client() as client:
        experiment_id = _experiment(client, "cal-cat", 11, results)
        response = _calibration(client, experiment_id, judge="judge", human="human")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == "kappa" and body["human_source"] == "experiment"
    assert (body["n"], body["skipped_errors"], body["unlabelled"]) == (10, 1, 0)
    assert body["kappa"] == pytest.approx(_kappa(JUDGE, HUMAN))
    assert body["agreement"] == pytest.approx(sum(a == b for a, b in zip(JUDGE, HUMAN, strict=True)) / 10)
    assert body["confusion"]["labels"] == ["bad", "good", "meh"]
    # Humans said "good" and the judge "bad" exactly once (item-6).
    assert body["confusion"]["counts"][1][0] == 1
    assert {d["item_id"] for d in body["disagreements"]} == {"item-1", "item-6", "item-8"}


def test_numeric_human_annotations_on_traces_give_spearman(contrail: LiveContrail) -> None:
    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_key(engine, create_project(engine, f"other-{uuid.uuid4().hex[:8]}").id)
    traces = [uuid.uuid4().hex for _ in JUDGE_NUM]
    results = [
        {"item_id": f"item-{i}", "trace_id": t, "output": "x", "scores": [{"name": "judge", "value": v}]}
        for i, (t, v) in enumerate(zip(traces, JUDGE_NUM, strict=True))
    ]
    # One more judged item has no human label: it is left out and counted.
    results.append(
        {"item_id": "item-8", "trace_id": uuid.uuid4().hex, "scores": [{"name": "judge", "value": 1}]}
    )
    with (
        contrail.client() as client,
        httpx.Client(
            base_url=contrail.url, headers={"Authorization": f"Bearer {other.secret_key}"}
        ) as intruder,
    ):
        experiment_id = _experiment(client, "cal-num", 9, results)
        for trace, value in zip(traces, HUMAN_NUM, strict=True):
            score = {"trace_id": trace, "name": "helpfulness", "value": value, "source": "ANNOTATION"}
            assert client.post("/api/v1/scores", json=score).status_code == 201
        # A newer API score loses to the annotation; another project's annotation is never read.
        noise = {"trace_id": traces[0], "name": "helpfulness", "value": 1.0, "source": "API"}
        assert client.post("/api/v1/scores", json=noise).status_code == 201
        foreign = {"trace_id": traces[1], "name": "helpfulness", "value": 5.0, "source": "ANNOTATION"}
        assert intruder.post("/api/v1/scores", json=foreign).status_code == 201
        wait_for(
            lambda: (
                len(client.get("/api/v1/scores", params={"name": "helpfulness", "limit": 100}).json()["data"])
                == len(traces) + 1
            ),
            what="the annotations to be written",
        )
        wait_for(
            lambda: intruder.get("/api/v1/scores", params={"name": "helpfulness"}).json()["data"],
            what="the other project's annotation",
        )
        response = _calibration(client, experiment_id, judge="judge", human="helpfulness")
        hidden = _calibration(intruder, experiment_id, judge="judge", human="helpfulness")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == "spearman" and body["human_source"] == "traces"
    assert (body["n"], body["unlabelled"]) == (8, 1)
    oracle = stats.spearmanr(JUDGE_NUM, HUMAN_NUM)
    assert body["spearman"] == pytest.approx(oracle.statistic)
    assert body["spearman_p_value"] == pytest.approx(oracle.pvalue, rel=0.05)
    # The biggest gap is item-7 (judge 4.5, human 3); the next four differ by 1.
    top = body["disagreements"][0]
    assert top["distance"] == pytest.approx(1.5) and top["item_id"] == "item-7"
    assert top["trace_id"] == traces[7]
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"


def test_bad_requests_are_clear_4xx(contrail: LiveContrail) -> None:
    results = [
        {"item_id": f"item-{i}", "scores": [{"name": "judge", "value": 1.0}, {"name": "human", "value": 1.0}]}
        for i in range(2)
    ]
    with contrail.client() as client:
        experiment_id = _experiment(client, "cal-few", 2, results)
        few = _calibration(client, experiment_id, judge="judge", human="human")
        unknown = _calibration(client, experiment_id, judge="nope", human="human")
        same = _calibration(client, experiment_id, judge="judge", human="judge")
        missing = _calibration(client, experiment_id, judge="judge")
        absent = _calibration(client, str(uuid.uuid4()), judge="judge", human="human")
    assert few.status_code == 422 and "at least 3 items" in few.json()["error"]["message"]
    assert few.json()["error"]["details"] == {"pairs": 2, "unlabelled": 0}
    assert unknown.status_code == 422 and "'nope'" in unknown.json()["error"]["message"]
    assert same.status_code == 422 and "two different" in same.json()["error"]["message"]
    assert missing.status_code == 422
    assert absent.status_code == 404
