"""Racing writers in threads (one engine, a connection each): no duplicate versions, one label holder."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from contrail.prompts import lookup, registry
from contrail.store.prompt_tables import prompt_labels

THREADS = 6


def _race(work: Callable[[int], None]) -> None:
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_concurrent_creates_get_distinct_consecutive_versions(engine: Engine, project_id: str) -> None:
    def create(index: int) -> None:
        for round_ in range(4):
            registry.create_version(engine, project_id, name="raced", type="text", prompt=f"{index}-{round_}")

    _race(create)
    versions = sorted(v.version for v in lookup.list_versions(engine, project_id, "raced"))
    assert versions == list(range(1, THREADS * 4 + 1))
    assert lookup.get_version(engine, project_id, "raced", label="latest").version == THREADS * 4


def test_concurrent_label_moves_leave_one_holder_and_a_consistent_log(
    engine: Engine, project_id: str
) -> None:
    for index in range(THREADS):
        registry.create_version(engine, project_id, name="moved", type="text", prompt=str(index))

    def move(index: int) -> None:
        for _ in range(5):
            registry.set_labels(engine, project_id, "moved", {"production": index + 1}, f"t{index}")

    _race(move)
    with engine.connect() as connection:
        holders = connection.execute(
            select(func.count()).where(
                prompt_labels.c.project_id == project_id, prompt_labels.c.label == "production"
            )
        ).scalar()
    assert holders == 1
    holder = lookup.get_version(engine, project_id, "moved").version
    events = [
        e for e in reversed(lookup.label_history(engine, project_id, "moved")) if e.label == "production"
    ]
    # Each move starts where the previous one left the label: moves were serialised, none lost.
    assert events[0].from_version is None
    assert all(a.to_version == b.from_version for a, b in itertools.pairwise(events))
    assert events[-1].to_version == holder
