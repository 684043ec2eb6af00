"""The SDK against the real Contrail server (SQLite): what the SDK sends is what the API serves."""

from __future__ import annotations

from tests.conftest import LiveContrail

import contrail
from contrail.sdk.context import current_trace_id


def test_observe_trace_with_generation_and_score_round_trips(sqlite_contrail: LiveContrail) -> None:
    contrail.configure(
        host=sqlite_contrail.url,
        public_key=sqlite_contrail.public_key,
        secret_key=sqlite_contrail.secret_key,
        environment="staging",
        release="v7",
        flush_interval=0.05,
    )

    seen: dict[str, str | None] = {}

    @contrail.observe(name="rag-pipeline")
    def pipeline(question: str) -> str:
        seen["trace_id"] = current_trace_id()
        contrail.update_current_trace(user_id="user-sdk", session_id="sess-sdk", tags=["sdk"])
        with contrail.generation("llm-call", model="gpt-4o-mini", input=question) as gen:
            gen.update(output="because", usage={"input_tokens": 11, "output_tokens": 3})
        contrail.score("accuracy", 0.9)
        return "because"

    assert pipeline("why?") == "because"
    assert contrail.flush(10)
    with sqlite_contrail.client() as http:
        trace = http.get(f"/api/v1/traces/{seen['trace_id']}").json()
    assert trace["name"] == "rag-pipeline"
    assert trace["user_id"] == "user-sdk" and trace["session_id"] == "sess-sdk"
    assert trace["environment"] == "staging" and trace["release"] == "v7"
    assert "sdk" in trace["tags"]
    generation = next(o for o in trace["observations"] if o["name"] == "llm-call")
    assert generation["type"] == "generation" and generation["model"] == "gpt-4o-mini"
    assert generation["usage"]["input_tokens"] == 11 and generation["output"] == "because"
    assert {s["name"]: s["value"] for s in trace["scores"]} == {"accuracy": 0.9}
