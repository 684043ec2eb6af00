"""Migration 0007 matches the dataset and experiment tables and goes down and up again on both dialects."""

from __future__ import annotations

from contrail.store import eval_tables
from tests.migration_checks import assert_migration_round_trip

MINE = {
    t.name
    for t in (
        eval_tables.datasets,
        eval_tables.dataset_items,
        eval_tables.dataset_item_history,
        eval_tables.experiments,
        eval_tables.experiment_results,
        eval_tables.experiment_scores,
    )
}


def test_migration_matches_the_table_definitions_and_downgrades(empty_database_url: str) -> None:
    assert_migration_round_trip(empty_database_url, MINE, down_to="0006")
