"""The demo generator drives the fake provider through the instrumented SDK clients into a real server."""

import datetime as dt

import pytest
from click.testing import CliRunner

from contrail.cli.demo import demo_command
from contrail.sdk.demo import RELEASES, run_demo
from contrail.sdk.instrument import anthropic as anthropic_instrument
from contrail.sdk.instrument import openai as openai_instrument


@pytest.fixture(autouse=True)
def _uninstrument():
    yield
    openai_instrument.uninstrument()
    anthropic_instrument.uninstrument()


def test_demo_produces_varied_realistic_traces(ingest_server):
    result = run_demo(60, host=ingest_server.url, secret_key="sk-test", seed=3)
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


def test_demo_command_reports_progress(ingest_server):
    result = CliRunner().invoke(demo_command, ["--traces", "5", "--host", ingest_server.url, "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "Sent 5 traces" in result.output
    assert len({o["trace_id"] for o in ingest_server.recorder.observations()}) >= 5
