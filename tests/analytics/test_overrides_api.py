"""/api/v1/prices on a live server: overrides priced at ingest, bad documents, project scoping, and a
change made through one server reaching another on the same database."""

from __future__ import annotations

import copy
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from contrail.store.projects import create_key, create_project
from tests.analytics.test_overrides import SELF_HOSTED
from tests.conftest import LiveContrail, start_contrail

START = 1_775_000_000_000_000  # 2026-03-31


def ingest_generation(
    client: httpx.Client, span_id: str, model: str, trace_id: str = "a" * 32, **fields: Any
) -> None:
    body = {
        "trace_id": trace_id,
        "span_id": span_id,
        "name": "llm",
        "type": "generation",
        "start_us": START,
        "end_us": START + 1_000,
        "model_requested": model,
        "usage": {"input_tokens": 2_000_000, "output_tokens": 1_000_000},
    } | fields
    response = client.post(
        "/api/v1/ingest", json={"batch": [{"id": span_id, "type": "observation", "body": body}]}
    )
    assert response.status_code == 207 and not response.json()["errors"], response.text


def observation(client: httpx.Client, trace_id: str, span_id: str) -> dict[str, Any]:
    trace = client.get(f"/api/v1/traces/{trace_id}").json()
    found: dict[str, Any] = next(o for o in trace["observations"] if o["span_id"] == span_id)
    return found


def test_overrides_price_ingest_and_are_listed_matched_and_deleted(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        put = client.put("/api/v1/prices", json=SELF_HOSTED)
        assert put.status_code == 200, put.text
        assert put.json() == {"added": ["self-hosted/acme-llama-70b"], "replaced": [], "version": 1}
        ingest_generation(client, "1" * 16, "acme-llama")  # 2026-03-31: the January price
        obs = observation(client, "a" * 32, "1" * 16)
        assert Decimal(obs["cost_usd"]["total"]) == Decimal("2.00")
        assert obs["metadata"]["contrail_cost"]["catalogue"] == "project"

        listed = client.get("/api/v1/prices").json()
        assert listed["version"] == 1
        (entry,) = listed["overrides"]
        assert entry["key"] == "self-hosted/acme-llama-70b"
        assert entry["history"] == ["2026-01-01", "2026-04-01"]
        assert entry["document"]["prices"][0]["input"] == "0.50"
        with_builtin = client.get("/api/v1/prices", params={"include_builtin": "true"}).json()
        assert any(e["key"] == "openai/gpt-4o" for e in with_builtin["builtin"])

        match = client.get(
            "/api/v1/prices/match", params={"model": "acme-llama", "at": "2026-05-01T00:00:00Z"}
        )
        assert match.json()["layer"] == "project"
        assert match.json()["entry"]["prices"] == {"input": "0.25", "output": "0.50"}
        unknown = client.get("/api/v1/prices/match", params={"model": "nobody-knows-this-7b"}).json()
        assert unknown["entry"] is None and unknown["explanation"] == "unpriced"

        deleted = client.delete("/api/v1/prices/self-hosted/acme-llama-70b")
        assert deleted.json() == {"deleted": "self-hosted/acme-llama-70b", "version": 2}
        again = client.delete("/api/v1/prices/self-hosted/acme-llama-70b")
        assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
        # Unpriced again, and visibly so: no cost, never zero.
        ingest_generation(client, "2" * 16, "acme-llama")
        obs = observation(client, "a" * 32, "2" * 16)
        assert obs["cost_usd"]["total"] is None
        assert obs["metadata"]["contrail_cost"]["status"] == "unpriced"


def test_bad_documents_are_refused_whole_with_every_problem(sqlite_contrail: LiveContrail) -> None:
    with sqlite_contrail.client() as client:
        assert client.put("/api/v1/prices", json=SELF_HOSTED).status_code == 200
        bad = copy.deepcopy(SELF_HOSTED)
        bad["entries"].append({"model": "second", "prices": [{"effective": "2026-01-01", "input": "-2"}]})
        bad["entries"][0]["prices"][0]["output"] = "NaN"
        response = client.put("/api/v1/prices", json=bad)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_price_document"
        assert "nothing was changed" in error["message"]
        problems = error["details"]["problems"]
        assert len(problems) == 3, problems
        assert any(p.startswith("entries[0].prices[0].output: must be between 0") for p in problems)
        assert any(p.startswith("entries[1].prices[0].input: must be between 0") for p in problems)
        assert any(p.startswith("entries[1].prices[0].output: missing") for p in problems)

        for body in (b"{not json", b"", "\u00ff".encode("latin-1")):
            response = client.put(
                "/api/v1/prices", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 422, body
            assert (
                response.json()["error"]["details"]["problems"][0].startswith("(top level)")
                or "not valid JSON" in (response.json()["error"]["details"]["problems"][0])
            )
        # Still exactly the first document.
        listed = client.get("/api/v1/prices").json()
        assert listed["version"] == 1
        assert listed["overrides"][0]["document"]["prices"][0]["output"] == "1.00"
        assert client.put("/api/v1/prices", content=b"x" * (11 * 1024 * 1024)).status_code == 413


def test_overrides_stay_in_their_project(sqlite_contrail: LiveContrail) -> None:
    engine = sqlite_contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_project(engine, f"other-{uuid.uuid4().hex[:8]}")
    other_key = create_key(engine, other.id)
    with sqlite_contrail.client() as client:
        assert client.put("/api/v1/prices", json=SELF_HOSTED).status_code == 200
    headers = {"Authorization": f"Bearer {other_key.secret_key}"}
    with httpx.Client(base_url=sqlite_contrail.url, headers=headers, timeout=30) as client:
        assert client.get("/api/v1/prices").json() == {"version": 0, "overrides": []}
        assert client.get("/api/v1/prices/match", params={"model": "acme-llama"}).json()["entry"] is None
        no_model = client.get("/api/v1/prices/match")  # every GET answers without parameters
        assert no_model.status_code == 200 and no_model.json()["entry"] is None
        assert client.delete("/api/v1/prices/self-hosted/acme-llama-70b").status_code == 404
        ingest_generation(client, "3" * 16, "acme-llama", trace_id="b" * 32)
        assert observation(client, "b" * 32, "3" * 16)["cost_usd"]["total"] is None
    with httpx.Client(base_url=sqlite_contrail.url, timeout=30) as anonymous:
        assert anonymous.put("/api/v1/prices", json=SELF_HOSTED).status_code == 401


def test_a_change_through_one_server_reaches_another(
    contrail: LiveContrail, database_url: str, tmp_path: Path
) -> None:
    server_b, _ = start_contrail(database_url, tmp_path / "home-b")
    try:
        b_url = server_b.url
        with httpx.Client(base_url=b_url, headers=contrail.headers, timeout=30) as client_b:
            before = client_b.get("/api/v1/prices/match", params={"model": "acme-llama"}).json()
            assert before["entry"] is None  # server B now caches "no overrides"
            with contrail.client() as client_a:
                assert client_a.put("/api/v1/prices", json=SELF_HOSTED).status_code == 200
            deadline = time.monotonic() + 15
            layer = None
            while time.monotonic() < deadline and layer is None:
                layer = client_b.get("/api/v1/prices/match", params={"model": "acme-llama"}).json()["layer"]
            assert layer == "project"
            ingest_generation(client_b, "4" * 16, "acme-llama", trace_id="c" * 32)
            assert Decimal(observation(client_b, "c" * 32, "4" * 16)["cost_usd"]["total"]) == Decimal("2.00")
    finally:
        server_b.stop()
