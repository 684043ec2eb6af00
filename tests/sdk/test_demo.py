"""The demo generator drives the fake provider through the instrumented SDK clients into a real server,
and creates a prompt, a dataset, two experiments and an online rule there once."""

import datetime as dt
import time

import pytest
from click.testing import CliRunner
from tests.conftest import LiveContrail

from contrail.cli.demo import demo_command
from contrail.prompts import stats
from contrail.sdk.demo import RELEASES, run_demo
from contrail.sdk.demo_workspace import DATASET, FAQ, PROMPT, RULE
from contrail.sdk.instrument import anthropic as anthropic_instrument
from contrail.sdk.instrument import openai as openai_instrument


@pytest.fixture(autouse=True)
def _uninstrument():
    yield
    openai_instrument.uninstrument()
    anthropic_instrument.uninstrument()


def test_demo_produces_varied_realistic_traces(ingest_server):
    result = run_demo(60, host=ingest_server.url, secret_key="sk-test", seed=3, workspace=False)
    assert result.traces == 60 and result.dropped == 0
    observations = ingest_server.recorder.observations()
    types = {o["type"] for o in observations}
    assert {"generation", "embedding", "retriever", "tool", "agent", "chain"} <= types
    assert len({o["trace_id"] for o in observations}) >= 60
    assert len({o["user_id"] for o in observations if o.get("user_id")}) >= 4
    assert {o["release"] for o in observations} == set(RELEASES)
    assert {o["provider"] for o in observations if o["type"] == "generation"} == {"openai", "anthropic"}
    assert len({o["model_requested"] for o in observations if o["type"] == "generation"}) >= 4
    assert any(o.get("session_id") for o in observations)
    assert any(o.get("ttft_us") for o in observations)
    assert any(o["status"] == "error" for o in observations)
    assert any(o.get("prompt_version") for o in observations)
    starts = [o["start_us"] for o in observations]
    now_us = dt.datetime.now(dt.timezone.utc).timestamp() * 1e6
    assert now_us - min(starts) > 7 * 86_400e6 and max(starts) <= now_us
    assert {s["name"] for s in ingest_server.recorder.scores()} >= {"relevance", "valid_json"}
    assert result.created == [] and result.workspace_error is None


def test_demo_command_reports_progress(ingest_server):
    args = ["--traces", "5", "--host", ingest_server.url, "--seed", "1", "--traces-only"]
    result = CliRunner().invoke(demo_command, args)
    assert result.exit_code == 0, result.output
    assert "Sent 5 traces" in result.output
    assert "Created" not in result.output and "No demo prompt" not in result.output
    assert len({o["trace_id"] for o in ingest_server.recorder.observations()}) >= 5


def test_a_server_refusing_the_workspace_still_gets_the_traces(ingest_server):
    # The recording server answers no GET (501): no prompt, dataset or rule, but every trace, and why.
    result = CliRunner().invoke(demo_command, ["--traces", "4", "--host", ingest_server.url, "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "Sent 4 traces" in result.output
    assert "No demo prompt, dataset, experiments or online rule: HTTPStatusError" in result.output
    assert "501" in result.output
    assert len({o["trace_id"] for o in ingest_server.recorder.observations()}) >= 4


def test_demo_creates_prompt_dataset_experiments_and_rule_once(sqlite_contrail: LiveContrail):
    live = sqlite_contrail
    keys = {"host": live.url, "public_key": live.public_key, "secret_key": live.secret_key}
    first = run_demo(12, seed=4, **keys)
    second = run_demo(3, seed=5, **keys)

    assert first.workspace_error is None and second.workspace_error is None
    assert first.created == [
        f"online rule {RULE}",
        f"prompt {PROMPT} (3 versions)",
        f"dataset {DATASET} ({len(FAQ)} items)",
        f"experiment {PROMPT} v2 (production)",
        f"experiment {PROMPT} v3 (staging)",
    ]
    assert second.created == []
    with live.client() as client:
        prompts = client.get("/api/v1/prompts").json()["data"]
        datasets = client.get("/api/v1/datasets").json()["data"]
        experiments = client.get("/api/v1/experiments").json()["data"]
        rules = client.get("/api/v1/eval-rules").json()["data"]
        by_name = {e["name"]: e for e in experiments}
        comparison = client.get(
            "/api/v1/experiments/compare",
            params={
                "baseline": by_name[f"{PROMPT} v2 (production)"]["id"],
                "candidate": by_name[f"{PROMPT} v3 (staging)"]["id"],
            },
        ).json()
    assert [(p["name"], p["versions"], p["labels"]) for p in prompts] == [
        (PROMPT, [1, 2, 3], {"latest": 3, "production": 2, "staging": 3})
    ]
    assert [(d["name"], d["item_count"], d["version"]) for d in datasets] == [(DATASET, len(FAQ), 1)]
    assert sorted(by_name) == [f"{PROMPT} v2 (production)", f"{PROMPT} v3 (staging)"]
    assert {e["status"] for e in experiments} == {"completed"}
    assert [r["name"] for r in rules] == [RULE]
    metrics = {m["metric"]: m for m in comparison["metrics"]}
    assert set(metrics) == {"exact", "contains", "token_overlap"}
    assert metrics["exact"]["verdict"] == "improved"
    # The staging prompt's short answers drop words the expected answer needs on two items.
    assert [c["item_id"] for c in metrics["contains"]["regressed_items"]] == ["faq-01", "faq-02"]

    engine = live.app.state.contrail.engine  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    found = stats.version_stats(engine, live.project_id, PROMPT, [1, 2, 3])
    while time.monotonic() < deadline and min(found[2].count, found[3].count) < len(FAQ):
        time.sleep(0.1)  # the server's writer commits the last batches in the background
        found = stats.version_stats(engine, live.project_id, PROMPT, [1, 2, 3])
    # Each experiment's generations (and the RAG traces') are linked to their prompt version.
    assert found[1].count == 0
    assert found[2].count >= len(FAQ) and found[3].count >= len(FAQ)
    assert found[2].cost_usd is not None and found[2].latency_p50_ms is not None
    assert "exact" in {s.name for s in found[3].scores}
