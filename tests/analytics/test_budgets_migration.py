"""Migration 0009 matches the table definitions and goes down and up again on both dialects."""

from __future__ import annotations

from tests.migration_checks import assert_migration_round_trip

_TABLES = {"budgets", "alert_settings", "webhooks", "alert_events", "webhook_deliveries"}


def test_migration_matches_the_tables_and_downgrades(empty_database_url: str) -> None:
    assert_migration_round_trip(empty_database_url, _TABLES, down_to="0008")
