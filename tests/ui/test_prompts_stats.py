"""Per-version stats behind the prompt pages, on SQLite and PostgreSQL: exact percentiles, cost of
priced calls only, scores counted once per version, other prompts and projects left out."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from contrail.prompts import stats
from contrail.store.projects import create_key
from tests.conftest import LiveContrail
from tests.ui import seed

NAME = "faq/answer"


def _call(trace: str, span: int, ms: float, version: int, cost: str | None, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": "generation", "model_requested": "no-such-model-xyz"}
    if cost is not None:
        fields["cost_usd"] = cost
    fields.update(extra)
    start = seed.now_us() - 60_000_000
    return seed.observation(
        trace, seed.span_id(span), "call", start, ms, prompt_name=NAME, prompt_version=version, **fields
    )


def test_version_stats(contrail: LiveContrail) -> None:
    t1, t2, t3, t4 = (f"{n:032x}" for n in (1, 2, 3, 4))
    events = [
        _call(t1, 1, 10, 1, "0.25", usage={"input_tokens": 3, "output_tokens": 2}),
        _call(t1, 2, 20, 1, "0.5"),  # a second call of v1 in the same trace
        _call(t2, 3, 30, 1, None, status="error"),  # unpriced: unknown model, no client cost
        _call(t2, 4, 40, 1, "0.25"),
        _call(t3, 5, 1000, 2, "1"),
        seed.observation(
            t4, seed.span_id(6), "other", seed.now_us(), 5, prompt_name="other", prompt_version=1
        ),
        seed.score(t1, "accuracy", 1.0),  # trace-level: counts once for v1 although t1 has two v1 calls
        seed.score(t1, "accuracy", 0.0, observation_id=seed.span_id(2)),
        seed.score(t2, "accuracy", 0.5, observation_id=seed.span_id(3)),
        seed.score(t2, "label", "good"),  # categorical: no numeric mean
        seed.score(t3, "accuracy", 0.25),
    ]
    with contrail.client() as client:
        seed.ingest(client, events)
    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]

    found = stats.version_stats(engine, contrail.project_id, NAME, [2, 1, 7])
    v1, v2, v7 = found[1], found[2], found[7]
    assert (v1.count, v1.error_count, v1.priced_count) == (4, 1, 3)
    assert (v1.latency_p50_ms, v1.latency_p95_ms) == (20.0, 40.0)  # nearest rank
    assert v1.cost_usd == Decimal("1")
    assert v1.cost_per_call_usd == Decimal("1") / 3
    assert v1.total_tokens == 5
    assert [(s.name, s.mean, s.count) for s in v1.scores] == [("accuracy", 0.5, 3)]
    assert v1.error_rate == 0.25
    assert (v2.count, v2.cost_usd, v2.latency_p50_ms) == (1, Decimal("1"), 1000.0)
    assert [(s.name, s.mean, s.count) for s in v2.scores] == [("accuracy", 0.25, 1)]
    assert v7 == stats.VersionStats(version=7)  # a version nothing used
    assert (v7.cost_per_call_usd, v7.error_rate) == (None, None)
    assert stats.version_stats(engine, contrail.project_id, NAME, []) == {}


def test_version_stats_are_scoped_to_the_project(contrail: LiveContrail) -> None:
    import httpx

    from contrail.store.projects import create_project

    engine = contrail.app.state.contrail.engine  # type: ignore[attr-defined]
    other = create_project(engine, "other-stats")
    issued = create_key(engine, other.id)
    headers = {"Authorization": f"Bearer {issued.secret_key}"}
    with httpx.Client(base_url=contrail.url, headers=headers, timeout=30) as client:
        seed.ingest(client, [_call(f"{9:032x}", 9, 50, 1, "3")])
    assert stats.version_stats(engine, contrail.project_id, NAME, [1])[1].count == 0
    assert stats.version_stats(engine, other.id, NAME, [1])[1].cost_usd == Decimal("3")
