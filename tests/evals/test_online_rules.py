"""Online evaluation rules over HTTP on SQLite and PostgreSQL: CRUD, bad input, project scoping,
deterministic sampling, and rules scoring production traces end to end (deterministic scorer and the
LLM judge against the fake provider) through the server's own worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from contrail.evals.online import sampled
from contrail.store.projects import create_key, create_project
from contrail.testing.fake_llm import FakeLLM
from tests.conftest import LiveContrail
from tests.evals.online_fixtures import (
    ingest,
    running_fast,
    scores,
    settled_jobs,
    trace_events,
)
from tests.migration_checks import assert_migration_round_trip

CONTAINS = {"type": "contains", "value": "Paris"}


@pytest.fixture
def fast_contrail(database_url: str, tmp_path: Path) -> Iterator[LiveContrail]:
    yield from running_fast(database_url, tmp_path)


def _rule(client: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"name": "mentions-paris", "sampling_percent": 100, "scorer": CONTAINS} | fields
    return client.post("/api/v1/eval-rules", json=body)


# --- the rules API ---------------------------------------------------------------------------------


def test_rule_crud(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        created = _rule(client, filter={"tag": ["prod"], "metadata": ["tier=gold"]}, sampling_percent=12.5)
        assert created.status_code == 201, created.text
        rule = created.json()
        duplicate = _rule(client)
        renamed = client.patch(f"/api/v1/eval-rules/{rule['id']}", json={"name": "paris", "enabled": False})
        listed = client.get("/api/v1/eval-rules").json()["data"]
        one = client.get(f"/api/v1/eval-rules/{rule['id']}").json()
        deleted = client.delete(f"/api/v1/eval-rules/{rule['id']}")
        gone = client.get(f"/api/v1/eval-rules/{rule['id']}")
        gone_jobs = client.get(f"/api/v1/eval-rules/{rule['id']}/jobs")
    assert rule["filter"] == {"tag": ["prod"], "metadata": ["tier=gold"]}
    assert (rule["sampling_percent"], rule["target"], rule["enabled"]) == (12.5, "trace", True)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "conflict"
    assert renamed.status_code == 200 and (renamed.json()["name"], renamed.json()["enabled"]) == (
        "paris",
        False,
    )
    assert [(r["name"], r["jobs"]["done"]) for r in listed] == [("paris", 0)]
    assert one["scorer"] == CONTAINS
    assert deleted.status_code == 204
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert gone_jobs.status_code == 404


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"filter": {"colour": "red"}}, "colour"),
        ({"filter": {"metadata": ["no-equals-sign"]}}, "key=value"),
        ({"filter": {"min_cost": "cheap"}}, "decimal"),
        ({"filter": {"type": "generation"}}, "target 'observation'"),
        ({"filter": {"type": "telepathy"}, "target": "observation"}, "type"),
        ({"sampling_percent": 101}, "sampling_percent"),
        ({"sampling_percent": -1}, "sampling_percent"),
        ({"sampling_percent": "all"}, "sampling_percent"),
        ({"scorer": {"type": "vibes"}}, "unknown scorer type"),
        ({"scorer": {"type": "contains", "valu": "x"}}, "valu"),
        ({"scorer": {"type": "python", "function": "os:system"}}, "built-in scorers"),
        (
            {"scorer": {"type": "judge", "rubric": "correctness", "model": "m", "api_key_env": "PATH"}},
            "CONTRAIL_JUDGE_",
        ),
        (
            {
                "scorer": {
                    "type": "judge",
                    "rubric": "correctness",
                    "model": "m",
                    "base_url": "https://evil.example/v1",
                }
            },
            "api_key_env",
        ),
        ({"target": "session"}, "target"),
        ({"name": ""}, "name"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_rules_are_refused_with_the_field(
    sqlite_contrail: LiveContrail, fields: dict[str, Any], fragment: str
) -> None:
    with sqlite_contrail.client() as client:
        response = _rule(client, **fields)
        listed = client.get("/api/v1/eval-rules").json()["data"]
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_parameters"
    assert fragment in json.dumps(response.json()["error"]["details"])
    assert listed == []


def test_bad_patches_and_bodies(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        rule_id = _rule(client).json()["id"]
        other = _rule(client, name="other").json()["id"]
        url = f"/api/v1/eval-rules/{rule_id}"
        answers = {
            "percent": client.patch(url, json={"sampling_percent": 250}),
            "scorer": client.patch(url, json={"scorer": {"type": "nope"}}),
            "level on a trace rule": client.patch(url, json={"filter": {"level": "error"}}),
            "name taken": client.patch(f"/api/v1/eval-rules/{other}", json={"name": "mentions-paris"}),
            "not json": client.post(
                "/api/v1/eval-rules", content=b"{", headers={"Content-Type": "application/json"}
            ),
            "a list": client.post("/api/v1/eval-rules", json=[1]),
            "unknown rule": client.patch("/api/v1/eval-rules/nope", json={"enabled": False}),
            "bad job status": client.get(f"{url}/jobs", params={"status": "exploded"}),
        }
        unchanged = client.get(url).json()
    statuses = {k: v.status_code for k, v in answers.items()}
    assert statuses == {
        "percent": 422,
        "scorer": 422,
        "level on a trace rule": 422,
        "name taken": 409,
        "not json": 400,
        "a list": 422,
        "unknown rule": 404,
        "bad job status": 422,
    }
    assert all("error" in v.json() for v in answers.values())
    assert (unchanged["sampling_percent"], unchanged["scorer"], unchanged["filter"]) == (100, CONTAINS, {})


def test_rules_are_scoped_to_the_project(sqlite_contrail: LiveContrail) -> None:
    engine = sqlite_contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_key(engine, create_project(engine, "other-team").id).secret_key
    with sqlite_contrail.client() as client:
        rule_id = _rule(client).json()["id"]
    with httpx.Client(base_url=sqlite_contrail.url, headers={"Authorization": f"Bearer {other}"}) as client:
        listed = client.get("/api/v1/eval-rules").json()["data"]
        answers = [
            client.get(f"/api/v1/eval-rules/{rule_id}"),
            client.patch(f"/api/v1/eval-rules/{rule_id}", json={"enabled": False}),
            client.delete(f"/api/v1/eval-rules/{rule_id}"),
            client.get(f"/api/v1/eval-rules/{rule_id}/jobs"),
        ]
    assert listed == []
    assert [a.status_code for a in answers] == [404, 404, 404, 404]


# --- sampling ----------------------------------------------------------------------------------------


def test_sampling_is_a_deterministic_hash_of_the_trace_id() -> None:
    ids = [f"{i * 7919:032x}" for i in range(20_000)]
    at_10 = {t for t in ids if sampled(t, 10)}
    at_30 = {t for t in ids if sampled(t, 30)}
    assert at_10 == {t for t in ids if sampled(t, 10)}  # same answer every time, in every process
    assert at_10 <= at_30  # nested: a trace sampled at 10% is sampled at 30%
    assert 0.09 < len(at_10) / len(ids) < 0.11
    assert 0.28 < len(at_30) / len(ids) < 0.32
    assert not any(sampled(t, 0) for t in ids) and all(sampled(t, 100) for t in ids)


# --- end to end through the server's worker ----------------------------------------------------------


def test_a_rule_scores_matching_production_traces(fast_contrail: LiveContrail) -> None:
    with fast_contrail.client() as client:
        paris = _rule(client, filter={"tag": ["prod"]}).json()["id"]
        halves = _rule(
            client, name="half", sampling_percent=50, scorer={"type": "contains", "value": "answer"}
        )
        generations = _rule(
            client,
            name="generation-mentions-paris",
            target="observation",
            filter={"type": "generation", "model": "gpt-4o-mini"},
        ).json()["id"]
        events = [
            e for n in range(1, 21) for e in trace_events(n, f"answer {n}: {'Paris' if n % 2 else 'Lyon'}")
        ]
        ingest(client, events + trace_events(99, "Paris", tags=("dev",)))
        done = settled_jobs(client, paris, 20)
        sampled_ids = {f"{n:032x}" for n in [*range(1, 21), 99] if sampled(f"{n:032x}", 50)}
        half_jobs = settled_jobs(client, halves.json()["id"], len(sampled_ids))
        gen_jobs = settled_jobs(client, generations, 21)
        found = {s["trace_id"]: s for s in scores(client, "mentions-paris")}
        gen_scores = scores(client, "generation-mentions-paris")
    assert {j["status"] for j in done} == {"done"}
    assert {j["attempts"] for j in done} == {1}
    assert set(found) == {f"{n:032x}" for n in range(1, 21)}  # the dev trace is filtered out
    assert all(found[f"{n:032x}"]["value"] == (1.0 if n % 2 else 0.0) for n in range(1, 21))
    assert {s["source"] for s in found.values()} == {"EVAL"}
    assert {s["observation_id"] for s in found.values()} == {None}
    assert {j["trace_id"] for j in half_jobs} == sampled_ids
    assert 0 < len(sampled_ids) < 21
    assert {j["observation_id"] for j in gen_jobs} == {f"{n + 10_000:016x}" for n in [*range(1, 21), 99]}
    assert len(gen_scores) == 21 and all(s["observation_id"] for s in gen_scores)


GOOD = json.dumps({"reasoning": "Matches the question.", "score": 5})
BAD = json.dumps({"reasoning": "Wrong city.", "score": 1})


def test_a_judge_rule_scores_traces_and_records_unparseable_answers(
    fast_contrail: LiveContrail, fake_llm: FakeLLM
) -> None:
    fake_llm.script.on(prompt_contains="answer 1:").respond(GOOD)
    fake_llm.script.on(prompt_contains="answer 2:").respond(BAD)
    fake_llm.script.on(prompt_contains="answer 3:").respond("<b>I'd rather not grade this one.</b>")
    judge = {
        "type": "judge",
        "rubric": "helpfulness",
        "model": "judge-model",
        "base_url": fake_llm.openai_base_url,
        "max_retries": 0,
    }
    with fast_contrail.client() as client:
        rule = _rule(client, name="judge-helpful", scorer=judge)
        assert rule.status_code == 201, rule.text
        ingest(client, [e for n in (1, 2, 3) for e in trace_events(n, f"answer {n}: Paris")])
        finished = {j["trace_id"]: j for j in settled_jobs(client, rule.json()["id"], 3)}
        found = {s["trace_id"]: s for s in scores(client, "judge-helpful")}
    assert finished[f"{1:032x}"]["status"] == finished[f"{2:032x}"]["status"] == "done"
    assert (found[f"{1:032x}"]["value"], found[f"{2:032x}"]["value"]) == (1.0, 0.0)
    assert found[f"{1:032x}"]["comment"] == "Matches the question."
    failed = finished[f"{3:032x}"]
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "I'd rather not grade this one." in failed["last_error"]  # the raw answer, kept for debugging
    assert f"{3:032x}" not in found  # no made-up number for an unparseable answer
    prompts = [r.prompt for r in fake_llm.requests]
    assert sum("answer 1:" in p for p in prompts) == 1


def test_a_disabled_rule_scores_nothing_and_re_enabling_starts_from_now(fast_contrail: LiveContrail) -> None:
    with fast_contrail.client() as client:
        rule_id = _rule(client, enabled=False).json()["id"]
        ingest(client, trace_events(1, "Paris"))
        client.patch(f"/api/v1/eval-rules/{rule_id}", json={"enabled": True})
        ingest(client, trace_events(2, "Paris"))
        finished = settled_jobs(client, rule_id, 1)  # the sampler has looked past traces 1 and 2
        ingest(client, trace_events(3, "Paris"))
        after = {j["trace_id"] for j in settled_jobs(client, rule_id, 2)}
    assert [j["trace_id"] for j in finished] == [f"{2:032x}"]
    assert after == {f"{2:032x}", f"{3:032x}"}


# --- schema ------------------------------------------------------------------------------------------


def test_migration_0011_matches_the_tables_and_downgrades(empty_database_url: str) -> None:
    assert_migration_round_trip(empty_database_url, {"eval_rules", "eval_jobs"}, down_to="0010")
