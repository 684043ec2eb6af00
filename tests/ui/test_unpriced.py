"""Calls whose model has no price are marked "unpriced" on the trace page and the observation panel."""

from __future__ import annotations

import re

from tests.ui.conftest import Site, signed_in_client

TRACE = "7" * 32


def _generation(span_id: str, model: str, **extra: object) -> dict[str, object]:
    body = {
        "trace_id": TRACE,
        "span_id": span_id,
        "name": f"call {model}",
        "type": "generation",
        "start_us": 1_760_000_000_000_000,
        "end_us": 1_760_000_000_100_000,
        "model_requested": model,
        "usage": {"input_tokens": 1000, "output_tokens": 100},
    } | extra
    return {"id": span_id, "type": "observation", "body": body}


def test_unpriced_calls_are_marked_never_shown_as_free(site: Site) -> None:
    batch = [_generation("a" * 16, "gpt-4o"), _generation("b" * 16, "my-house-model-<b>x</b>")]
    with site.live.client() as api:
        assert api.post("/api/v1/ingest", json={"batch": batch}).status_code == 207
    with signed_in_client(site) as ui:
        page = ui.get(f"/traces/{TRACE}", params={"observation": "b" * 16})
        assert page.status_code == 200
        assert re.search(r"id=\"trace-unpriced\"[^>]*>1 unpriced call<", page.text)
        assert 'id="cost-unpriced">unpriced</span> unknown model' in page.text
        assert "<b>x</b>" not in page.text  # the model name is escaped
        priced = ui.get(f"/traces/{TRACE}", params={"observation": "a" * 16})
        assert 'id="cost-unpriced"' not in priced.text
