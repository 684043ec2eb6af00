"""The real Langfuse Python SDK, pointed at Contrail: traces over OTLP and scores over its REST API."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from tests.conftest import LiveContrail


def test_langfuse_observe_generation_and_scores_arrive(contrail: LiveContrail) -> None:
    from langfuse import Langfuse, propagate_attributes

    client = Langfuse(
        public_key=contrail.public_key,
        secret_key=contrail.secret_key,
        base_url=contrail.url,
        environment="staging",
        release="v42",
        tracer_provider=TracerProvider(),  # never touch the global provider in tests
        flush_at=1,
    )
    with (
        client.start_as_current_observation(name="rag-pipeline", as_type="span", input={"q": "why?"}) as root,
        propagate_attributes(user_id="user-lf", session_id="sess-lf", tags=["lf"], metadata={"plan": "pro"}),
    ):
        with client.start_as_current_observation(
            name="llm-call",
            as_type="generation",
            model="gpt-4o-mini",
            input=[{"role": "user", "content": "why?"}],
        ) as generation:
            generation.update(output="because", usage_details={"input": 11, "output": 3})
        trace_id = root.trace_id
        root.update(output={"answer": "because"})
    client.create_score(name="accuracy", value=0.9, trace_id=trace_id, data_type="NUMERIC")
    client.create_score(name="verdict", value="good", trace_id=trace_id, data_type="CATEGORICAL")
    client.flush()
    client.shutdown()

    with contrail.client() as http:
        trace = http.get(f"/api/v1/traces/{trace_id}").json()
    assert trace["name"] == "rag-pipeline"
    assert trace["user_id"] == "user-lf"
    assert trace["session_id"] == "sess-lf"
    assert trace["environment"] == "staging"
    assert trace["release"] == "v42"
    assert "lf" in trace["tags"]
    generation_obs = next(o for o in trace["observations"] if o["name"] == "llm-call")
    assert generation_obs["type"] == "generation"
    assert generation_obs["model"] == "gpt-4o-mini"
    assert generation_obs["usage"]["input_tokens"] == 11
    assert generation_obs["usage"]["output_tokens"] == 3
    assert generation_obs["output"] == "because"
    scores = {s["name"]: s for s in trace["scores"]}
    assert scores["accuracy"]["value"] == 0.9
    assert scores["verdict"]["string_value"] == "good"
