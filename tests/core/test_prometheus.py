"""GET /metrics: Prometheus text with ingest counters and the calling project's LLM usage only."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from contrail.server.telemetry import MAX_MODELS_PER_PROJECT
from contrail.store.projects import create_key, create_project
from tests.conftest import LiveContrail


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _generation(span: str, model: str, **fields: object) -> dict[str, object]:
    body = {
        "trace_id": "9" * 32,
        "span_id": span,
        "name": "llm",
        "type": "generation",
        "start_us": 1_760_000_000_000_000,
        "model_requested": model,
    } | fields
    return {"id": span, "type": "observation", "body": body}


def test_metrics_count_ingest_and_scope_llm_usage_to_the_caller(sqlite_contrail: LiveContrail) -> None:
    batch = [
        _generation("1" * 16, "gpt-4o-mini", usage={"input_tokens": 1000, "output_tokens": 200}),
        _generation("2" * 16, "gpt-4o-mini", usage={"input_tokens": 10, "output_tokens": 2}, level="error"),
        _generation("0" * 16, "gpt-4o-mini"),  # rejected: all-zero span id
    ]
    engine = sqlite_contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_key(engine, create_project(engine, f"other-{uuid.uuid4().hex[:6]}").id)
    with sqlite_contrail.client() as client:
        client.post("/api/v1/ingest", json={"batch": batch})
        scraped = client.get("/metrics")
    with httpx.Client(
        base_url=sqlite_contrail.url, headers={"Authorization": f"Bearer {other.secret_key}"}
    ) as c:
        theirs = c.get("/metrics").text
    with httpx.Client(base_url=sqlite_contrail.url) as anonymous:
        refused = anonymous.get("/metrics")

    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    samples = _samples(scraped.text)
    project = sqlite_contrail.project_id
    labels = (("model", "gpt-4o-mini"), ("project", project))
    assert samples[("contrail_ingest_spans_total", (("endpoint", "native"), ("outcome", "accepted")))] == 2
    assert samples[("contrail_ingest_spans_total", (("endpoint", "native"), ("outcome", "rejected")))] == 1
    assert samples[("contrail_llm_calls_total", labels)] == 2
    assert samples[("contrail_llm_errors_total", labels)] == 1
    assert samples[("contrail_llm_tokens_total", (("direction", "input"), *labels))] == 1010
    assert samples[("contrail_llm_cost_usd_total", labels)] > 0
    assert samples[("contrail_write_group_seconds_count", ())] >= 1
    assert project not in theirs  # another project's key sees server health, not our usage
    assert refused.status_code == 401


def test_model_labels_are_bounded_per_project(sqlite_contrail: LiveContrail) -> None:
    batch = [_generation(f"{i + 1:016x}", f"model-{i}") for i in range(MAX_MODELS_PER_PROJECT + 10)]
    with sqlite_contrail.client() as client:
        client.post("/api/v1/ingest", json={"batch": batch})
        samples = _samples(client.get("/metrics").text)
    models = {dict(labels)["model"] for name, labels in samples if name == "contrail_llm_calls_total"}
    assert len(models) == MAX_MODELS_PER_PROJECT + 1
    assert (
        samples[("contrail_llm_calls_total", (("model", "other"), ("project", sqlite_contrail.project_id)))]
        == 10
    )
