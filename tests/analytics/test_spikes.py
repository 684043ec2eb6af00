"""Spikes: an hour above factor x the trailing median per name and model, with a minimum volume."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from contrail.analytics import spikes
from contrail.analytics.rollups import rebuild_rollups
from contrail.analytics.spikes import HOUR_US, HourTotal, SpikeSettings
from contrail.server import alerts
from contrail.store.database import writing
from contrail.store.projects import create_project
from tests.analytics.test_budgets import engine_fixture, spend_at  # noqa: F401 - the fixture

HOUR = 1_780_000_000_000_000 - 1_780_000_000_000_000 % HOUR_US  # the hour under test
NOW = HOUR + HOUR_US + 60_000_000  # a minute into the next hour


def _history(hours: int, tokens: int, cost_nanos: int = 0, model: str | None = "gpt-4o") -> list[HourTotal]:
    return [HourTotal(HOUR - h * HOUR_US, "chat", model, tokens, cost_nanos) for h in range(1, hours + 1)]


def test_an_hour_above_three_times_the_median_is_a_spike() -> None:
    totals = [*_history(48, 10_000), HourTotal(HOUR, "chat", "gpt-4o", 31_000, 0)]
    [spike] = spikes.detect(totals, HOUR, SpikeSettings())
    assert (spike.name, spike.model, spike.metrics) == ("chat", "gpt-4o", ("tokens",))
    assert (spike.tokens, spike.median_tokens, spike.history_hours) == (31_000, 10_000.0, 48)
    calm = [*_history(48, 10_000), HourTotal(HOUR, "chat", "gpt-4o", 29_000, 0)]
    assert spikes.detect(calm, HOUR, SpikeSettings()) == []


def test_quiet_hours_count_as_zero_and_volume_must_be_reached() -> None:
    sparse = [HourTotal(HOUR - 30 * HOUR_US, "chat", None, 500, 0), HourTotal(HOUR, "chat", None, 9_000, 0)]
    assert spikes.detect(sparse, HOUR, SpikeSettings()) == []  # median 0, but under 10,000 tokens
    assert spikes.detect(sparse, HOUR, SpikeSettings(min_tokens=5_000))[0].median_tokens == 0.0


def test_cost_spikes_and_per_project_factor() -> None:
    totals = [
        *_history(30, 100, cost_nanos=1_000_000_000),
        HourTotal(HOUR, "chat", "gpt-4o", 100, 4_000_000_000),
    ]
    [spike] = spikes.detect(totals, HOUR, SpikeSettings())
    assert spike.metrics == ("cost",) and spike.cost_usd == Decimal(4) and spike.median_cost_usd == Decimal(1)
    assert spikes.detect(totals, HOUR, SpikeSettings(factor=5)) == []


def test_less_than_a_day_of_history_is_not_judged() -> None:
    totals = [*_history(23, 10), HourTotal(HOUR, "chat", "gpt-4o", 1_000_000, 0)]
    assert spikes.detect(totals, HOUR, SpikeSettings()) == []
    assert spikes.detect([*totals, *_history(24, 10)[23:]], HOUR, SpikeSettings()) != []


@pytest.mark.parametrize(
    ("factor", "min_tokens", "min_cost"),
    [
        (1.0, 0, "0"),
        ("3", 0, "0"),
        (True, 0, "0"),
        (3, -1, "0"),
        (3, 1.5, "0"),
        (3, 0, "-1"),
        (3, 0, "x"),
        (3, 0, "NaN"),
        (1e9, 0, "0"),
        (3, 10**13, "0"),
    ],
)
def test_bad_settings_are_refused(factor: object, min_tokens: object, min_cost: object) -> None:
    with pytest.raises(spikes.SpikeSettingsError):
        spikes.check_settings(factor, min_tokens, min_cost)


def test_spikes_from_stored_observations_are_recorded_once(engine: Engine) -> None:
    project_id = create_project(engine, f"spikes-{uuid.uuid4().hex[:10]}").id
    spikes.set_settings(
        engine, project_id, SpikeSettings(factor=3, min_tokens=100, min_cost_usd=Decimal("0.5"))
    )
    for h in range(1, 49):
        spend_at(
            engine, project_id, HOUR - h * HOUR_US, "0.1", model="gpt-4o", input_tokens=40, output_tokens=10
        )
        spend_at(
            engine,
            project_id,
            HOUR - h * HOUR_US + 1,
            "0.1",
            name="embed",
            model="e5",
            input_tokens=10,
            output_tokens=0,
        )
    for i in range(10):  # the hour under test: 10 calls of chat on gpt-4o
        spend_at(engine, project_id, HOUR + i, "0.1", model="gpt-4o", input_tokens=40, output_tokens=10)
    spend_at(engine, project_id, HOUR + 5, "0.1", name="embed", model="e5", input_tokens=10, output_tokens=0)
    spend_at(
        engine, project_id, HOUR + 2 * HOUR_US, "50", model="gpt-4o", input_tokens=10**6, output_tokens=0
    )  # not complete
    with writing(engine).begin() as connection:  # rows went in without the writer: roll them up
        rebuild_rollups(connection, project_id, None, None)
    [spike] = spikes.find_spikes(engine, project_id, NOW)
    assert (spike.name, spike.model, spike.metrics, spike.tokens) == (
        "chat",
        "gpt-4o",
        ("tokens", "cost"),
        500,
    )
    assert spike.cost_usd == Decimal("1")
    assert alerts.check_spikes(engine, NOW) >= 1
    assert alerts.check_spikes(engine, NOW + 60_000_000) == 0  # the same hour again: nothing new
    [event] = alerts.list_events(engine, project_id, kind="spike")
    assert event.details["name"] == "chat" and event.details["metrics"] == ["tokens", "cost"]
    assert spikes.get_settings(engine, project_id).min_tokens == 100
