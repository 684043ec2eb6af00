"""Per-project price overrides: per-period layering, all-or-nothing storage, the server-side cache."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from contrail.analytics.catalogue import default_catalogue
from contrail.analytics.cost import COST_METADATA_KEY, price_observations
from contrail.analytics.overrides import (
    LAYER,
    CatalogueCache,
    OverrideNotFound,
    delete_override,
    list_overrides,
    project_catalogue,
    put_overrides,
)
from contrail.analytics.price_file import PriceFileError, parse_price_document
from contrail.store.projects import create_project
from tests.analytics.conftest import at, generation

SELF_HOSTED: dict[str, Any] = {
    "schema_version": 1,
    "provider": "self-hosted",
    "entries": [
        {
            "model": "acme-llama-70b",
            "aliases": ["acme-llama"],
            "prices": [
                {"effective": "2026-01-01", "input": "0.50", "output": "1.00"},
                {"effective": "2026-04-01", "input": "0.25", "output": "0.50"},
            ],
        }
    ],
}
GPT4O_FROM_MARCH: dict[str, Any] = {
    "schema_version": 1,
    "entries": [
        {
            "provider": "openai",
            "model": "gpt-4o",
            "prices": [{"effective": "2026-03-01", "input": "1", "output": "2"}],
        }
    ],
}


@pytest.fixture
def project(engine: Engine) -> str:
    import uuid

    return create_project(engine, f"prices-{uuid.uuid4().hex[:10]}").id


def _cost(obs: Any) -> Decimal | None:
    total: Decimal | None = obs.cost.total
    return total


def test_an_override_applies_from_its_first_date_and_history_keeps_the_builtin_price() -> None:
    catalogue = project_catalogue(parse_price_document(GPT4O_FROM_MARCH, origin="t"))
    before = generation("gpt-4o-2024-08-06", 1_000_000, 1_000_000, start_us=at("2026-02-15"))
    after = generation("gpt-4o-2024-08-06", 1_000_000, 1_000_000, start_us=at("2026-03-15"))
    builtin = generation("gpt-4o-2024-08-06", 1_000_000, 1_000_000, start_us=at("2026-02-15"))
    price_observations([builtin])
    price_observations([before, after], catalogue)
    assert _cost(after) == Decimal(3)
    assert after.metadata[COST_METADATA_KEY]["catalogue"] == LAYER
    assert after.metadata[COST_METADATA_KEY]["effective"] == "2026-03-01"
    assert _cost(before) == _cost(builtin) != Decimal(3)  # February keeps February's built-in price
    assert "before_first_price" not in before.metadata[COST_METADATA_KEY]


def test_self_hosted_model_is_priced_by_period_and_unknown_models_stay_unpriced() -> None:
    catalogue = project_catalogue(parse_price_document(SELF_HOSTED, origin="t"))
    january = generation("acme-llama", 2_000_000, 1_000_000, start_us=at("2026-01-10"))
    may = generation("self-hosted/acme-llama-70b", 2_000_000, 1_000_000, start_us=at("2026-05-10"))
    unknown = generation("acme-mistral-7b", 10, 10)
    price_observations([january, may, unknown], catalogue)
    assert _cost(january) == Decimal("2.00")
    assert _cost(may) == Decimal("1.00")
    assert _cost(unknown) is None
    assert unknown.metadata[COST_METADATA_KEY] == {
        "status": "unpriced",
        "reason": "unknown_model",
        "model_name": "acme-mistral-7b",
    }


def test_put_list_replace_and_delete(engine: Engine, project: str) -> None:
    first = put_overrides(engine, project, copy.deepcopy(SELF_HOSTED))
    assert (first.added, first.replaced, first.version) == (["self-hosted/acme-llama-70b"], [], 1)
    changed = copy.deepcopy(SELF_HOSTED)
    changed["entries"][0]["prices"] = [{"effective": "2026-01-01", "input": "9", "output": "9"}]
    second = put_overrides(engine, project, changed | {"source": "https://example.com/prices"})
    assert (second.added, second.replaced, second.version) == ([], ["self-hosted/acme-llama-70b"], 2)
    version, stored = list_overrides(engine, project)
    assert version == 2 and len(stored) == 1
    assert stored[0].entry.current().rates.input == Decimal(9)
    # Stored standalone: the document-level provider and source travel with the entry.
    assert stored[0].document["provider"] == "self-hosted"
    assert stored[0].entry.source == "https://example.com/prices"
    assert delete_override(engine, project, "Self-Hosted", "ACME-llama-70b") == 3
    assert list_overrides(engine, project) == (3, [])
    with pytest.raises(OverrideNotFound):
        delete_override(engine, project, "self-hosted", "acme-llama-70b")


def test_overrides_are_per_project(engine: Engine, project: str) -> None:
    import uuid

    other = create_project(engine, f"other-{uuid.uuid4().hex[:10]}").id
    put_overrides(engine, project, copy.deepcopy(SELF_HOSTED))
    assert list_overrides(engine, other) == (0, [])
    with pytest.raises(OverrideNotFound):
        delete_override(engine, other, "self-hosted", "acme-llama-70b")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"entries": []}, ["entries: must be a non-empty list"]),
        ([1, 2], ["(top level): must be an object"]),
        (
            {
                "provider": "self-hosted",
                "entries": [
                    {"model": "a", "prices": [{"effective": "2026-01-01", "input": "-1", "output": "1"}]},
                    {"model": "b", "prices": [{"effective": "2026-01-01", "input": "1", "output": "1e9"}]},
                    {"model": "c", "pricez": []},
                    {"model": "", "prices": [{"effective": "someday", "input": "1", "output": "1"}]},
                ],
            },
            [
                "entries[0].prices[0].input: must be between 0 and",
                "entries[1].prices[0].output: must be between 0 and",
                "entries[2].pricez: unknown field",
                "entries[2].prices: must be a non-empty list",
                "entries[3].model: must be a non-empty model name",
                "entries[3].prices[0].effective: not a date",
            ],
        ),
    ],
)
def test_a_bad_document_lists_every_problem_and_changes_nothing(
    engine: Engine, project: str, document: Any, expected: list[str]
) -> None:
    put_overrides(engine, project, copy.deepcopy(SELF_HOSTED))
    with pytest.raises(PriceFileError) as raised:
        put_overrides(engine, project, document)
    problems = raised.value.problems
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problems
    version, stored = list_overrides(engine, project)
    assert version == 1 and [o.entry.key for o in stored] == ["self-hosted/acme-llama-70b"]


def test_an_alias_taken_by_a_stored_entry_is_refused_with_nothing_applied(
    engine: Engine, project: str
) -> None:
    put_overrides(engine, project, copy.deepcopy(SELF_HOSTED))
    clash = {
        "provider": "self-hosted",
        "entries": [
            {"model": "fresh-model", "prices": [{"effective": "2026-01-01", "input": "1", "output": "1"}]},
            {"model": "acme-llama", "prices": [{"effective": "2026-01-01", "input": "1", "output": "1"}]},
        ],
    }
    with pytest.raises(PriceFileError, match="self-hosted/acme-llama is defined twice"):
        put_overrides(engine, project, clash)
    assert [o.entry.model for o in list_overrides(engine, project)[1]] == ["acme-llama-70b"]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cache_checks_the_version_at_most_once_per_interval(engine: Engine, project: str) -> None:
    clock = _Clock()
    cache = CatalogueCache(engine, check_seconds=1.0, clock=clock)
    assert cache.fresh(project) is None  # never loaded: due a check
    assert cache.load(project) is default_catalogue()
    assert cache.fresh(project) is default_catalogue()
    # Another process (or the CLI) changes the prices: this one sees it after its next check.
    put_overrides(engine, project, copy.deepcopy(SELF_HOSTED))
    clock.now += 0.5
    assert cache.fresh(project) is default_catalogue()
    clock.now += 0.6
    assert cache.fresh(project) is None
    refreshed = cache.load(project)
    found = refreshed.match("acme-llama")
    assert found is not None and found.layer == LAYER
    assert cache.load(project) is refreshed  # same version: the catalogue (and its match cache) is kept
    cache.invalidate(project)
    assert cache.fresh(project) is None
