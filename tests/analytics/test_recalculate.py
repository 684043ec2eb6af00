"""Re-pricing stored observations after a price change: costs, rollups and bad ranges."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from contrail.analytics.catalogue import default_catalogue
from contrail.analytics.overrides import project_catalogue
from contrail.analytics.price_file import parse_price_document
from contrail.analytics.recalculate import recalculate
from contrail.store.rollup_tables import DAY_US, HOUR_US, metric_rollups, trace_rollups
from contrail.store.tables import observations, session_activity, traces, user_activity
from tests.analytics.test_overrides import SELF_HOSTED
from tests.analytics.test_overrides_api import START, ingest_generation, observation
from tests.conftest import LiveContrail

CHEAP_GPT4O: dict[str, Any] = {
    "entries": [
        {
            "provider": "openai",
            "model": "gpt-4o",
            "prices": [{"effective": "2020-01-01", "input": "1", "output": "1"}],
        }
    ]
}
DAY = 86_400_000_000


def _totals(engine: Engine, project_id: str) -> dict[str, int]:
    """Cost sums by every rollup; consistent rollups give one number."""
    with engine.connect() as connection:

        def total(table: Any) -> int:
            query = select(func.coalesce(func.sum(table.c.total_cost_nanos), 0)).where(
                table.c.project_id == project_id
            )
            return int(connection.execute(query).scalar_one())

        def rollup_total(grain_us: int, table: Any = metric_rollups, *where: Any) -> int:
            query = select(func.coalesce(func.sum(table.c.cost_nanos), 0)).where(
                table.c.project_id == project_id, table.c.grain_us == grain_us, *where
            )
            return int(connection.execute(query).scalar_one())

        every_trace = trace_rollups.c.segment == ""

        return {
            "observations": total(observations),
            "traces": total(traces),
            "sessions": total(session_activity),
            "users": total(user_activity),
            "hourly metric rollups": rollup_total(HOUR_US),
            "daily metric rollups": rollup_total(DAY_US),
            "hourly trace rollups": rollup_total(HOUR_US, trace_rollups, every_trace),
            "daily trace rollups": rollup_total(DAY_US, trace_rollups, every_trace),
        }


def _ingest_calls(client: httpx.Client) -> None:
    for i, (trace, model) in enumerate(
        [("a", "gpt-4o"), ("a", "gpt-4o-2024-08-06"), ("b", "gpt-4o"), ("b", "acme-llama"), ("c", "gpt-4o")]
    ):
        ingest_generation(
            client,
            f"{i + 1:016x}",
            model,
            trace_id=trace * 32,
            start_us=START + i * DAY,
            end_us=START + i * DAY + 1_000,
            session_id=f"session-{trace}",
            user_id="user-1",
            usage={"input_tokens": 1_000_000, "output_tokens": 1_000_000},
        )


def test_recalculate_reprices_the_range_and_keeps_every_rollup_consistent(contrail: LiveContrail) -> None:
    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    with contrail.client() as client:
        _ingest_calls(client)
        before = _totals(engine, contrail.project_id)
        assert len(set(before.values())) == 1 and before["observations"] > 0
        assert observation(client, "b" * 32, f"{4:016x}")["cost_usd"]["total"] is None  # unknown yet
        assert client.put("/api/v1/prices", json=CHEAP_GPT4O).status_code == 200
        assert client.put("/api/v1/prices", json=SELF_HOSTED).status_code == 200
        # Only the first four calls: the fifth (day 4) is outside [day 0, day 4).
        response = client.post(
            "/api/v1/prices/recalculate",
            json={"start": "2026-03-30T00:00:00Z", "end": "2026-04-04T00:00:00Z"},
        )
        assert response.status_code == 200, response.text
        counts = response.json()
        assert (counts["scanned"], counts["matched"], counts["changed"], counts["unpriced"]) == (4, 4, 4, 0)
        assert counts["traces_updated"] == 2
        after = _totals(engine, contrail.project_id)
        assert len(set(after.values())) == 1, after
        assert Decimal(counts["cost_delta_usd"]) == Decimal(after["traces"] - before["traces"]) / 10**9
        repriced = observation(client, "a" * 32, f"{2:016x}")
        assert Decimal(repriced["cost_usd"]["total"]) == Decimal(2)
        assert repriced["metadata"]["contrail_cost"]["catalogue"] == "project"
        assert "recalculated" in repriced["metadata"]["contrail_cost"]
        # acme-llama on 2026-04-03 is in the April period: 0.25 + 0.50.
        assert Decimal(observation(client, "b" * 32, f"{4:016x}")["cost_usd"]["total"]) == Decimal("0.75")
        untouched = observation(client, "c" * 32, f"{5:016x}")
        assert Decimal(untouched["cost_usd"]["total"]) != Decimal(2)
        # Running it again changes nothing.
        again = client.post(
            "/api/v1/prices/recalculate",
            json={"start": "2026-03-30T00:00:00Z", "end": "2026-04-04T00:00:00Z"},
        ).json()
        assert (again["scanned"], again["changed"], again["cost_delta_usd"]) == (4, 0, "0")


def test_model_filter_and_client_costs(contrail: LiveContrail) -> None:
    with contrail.client() as client:
        ingest_generation(client, "1" * 16, "gpt-4o", trace_id="d" * 32, cost_usd="0.5")
        ingest_generation(client, "2" * 16, "gpt-4o-mini", trace_id="d" * 32)
        mini_before = observation(client, "d" * 32, "2" * 16)["cost_usd"]["total"]
        assert client.put("/api/v1/prices", json=CHEAP_GPT4O).status_code == 200
        body = {"start": "2026-03-01T00:00:00Z", "end": "2026-05-01T00:00:00Z", "models": ["gpt-4o"]}
        counts = client.post("/api/v1/prices/recalculate", json=body).json()
        assert (counts["scanned"], counts["matched"]) == (2, 1)
        reported = observation(client, "d" * 32, "1" * 16)
        assert reported["cost_usd"]["total"] == "0.5"  # the client's figure is kept...
        marker = reported["metadata"]["contrail_cost"]
        assert Decimal(marker["computed_total"]) == Decimal(3)  # ...ours, with the new price, beside it
        assert marker["mismatch"] is True
        assert observation(client, "d" * 32, "2" * 16)["cost_usd"]["total"] == mini_before


def test_bad_ranges_are_422_with_a_reason(sqlite_contrail: LiveContrail) -> None:
    cases = [
        ({"start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "invalid_range", "after start"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "invalid_range", "after start"),
        ({"start": "2000-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "invalid_range", "366 days"),
        ({"start": "yesterday", "end": "2026-01-01T00:00:00Z"}, "invalid_parameters", "RFC 3339"),
        ({"end": "2026-01-01T00:00:00Z"}, "invalid_parameters", "Some parameters"),
        ({"start": "2026-01-01", "end": "2026-01-02", "models": []}, "invalid_range", "1 to 100"),
        ({"start": "2026-01-01", "end": "2026-01-02", "models": [" "]}, "invalid_range", "non-empty"),
    ]
    with sqlite_contrail.client() as client:
        for body, code, text in cases:
            response = client.post("/api/v1/prices/recalculate", json=body)
            assert response.status_code == 422, body
            assert response.json()["error"]["code"] == code, body
            assert text in response.json()["error"]["message"], response.json()


def test_small_chunks_give_the_same_result(contrail: LiveContrail) -> None:
    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    with contrail.client() as client:
        _ingest_calls(client)
    catalogue = project_catalogue(parse_price_document(copy.deepcopy(CHEAP_GPT4O), origin="t"))
    result = recalculate(
        engine, contrail.project_id, catalogue, START - DAY, START + 10 * DAY, ["gpt-4o"], chunk=2
    )
    assert (result.scanned, result.matched, result.changed, result.chunks) == (5, 4, 4, 3)
    totals = _totals(engine, contrail.project_id)
    assert len(set(totals.values())) == 1, totals
    # Back to the built-in prices: the totals return exactly to where they were before.
    back = recalculate(engine, contrail.project_id, default_catalogue(), START - DAY, START + 10 * DAY)
    assert back.changed == 4 and back.cost_delta_nanos == -result.cost_delta_nanos
