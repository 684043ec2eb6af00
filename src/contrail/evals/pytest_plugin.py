"""Run evaluations as pytest tests. Enable in a ``conftest.py``::

    pytest_plugins = ["contrail.evals.pytest_plugin"]

    def test_answers(contrail_eval):
        contrail_eval("qa-golden", answer, ["exact_match"], thresholds=["exact_match.mean >= 0.8"])

``contrail_eval`` runs the experiment (recorded on the server the SDK exports to, or ``backend=``),
records every item as a ``contrail_item`` property (pytest's JUnit XML shows them), lists the items
in the terminal summary, and fails the test with the failed thresholds and the failing items.
``await contrail_eval.arun(...)`` does the same from an async test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from contrail.evals.reports import Verdict
    from contrail.evals.runner import ExperimentRun

_RUNS_KEY = pytest.StashKey[list[tuple[str, "ExperimentRun"]]]()
_MAX_REPORTED = 50


class ContrailEval:
    """The ``contrail_eval`` fixture's value: call it (sync tests) or ``await .arun()`` (async)."""

    def __init__(self, node_id: str, record: Callable[[str, object], None], runs: list[Any]) -> None:
        self._node_id = node_id
        self._record = record
        self._runs = runs

    def __call__(
        self,
        dataset: str,
        target: Any,
        scorers: Sequence[Any] = (),
        *,
        thresholds: Sequence[str] = (),
        max_error_rate: float | None = 0.0,
        **options: Any,
    ) -> ExperimentRun:
        from contrail.evals.runner import run_experiment

        options.setdefault("progress", False)
        run = run_experiment(dataset, target, scorers, **options)
        return self._check(run, thresholds, max_error_rate)

    async def arun(
        self,
        dataset: str,
        target: Any,
        scorers: Sequence[Any] = (),
        *,
        thresholds: Sequence[str] = (),
        max_error_rate: float | None = 0.0,
        **options: Any,
    ) -> ExperimentRun:
        from contrail.evals.runner import arun_experiment

        options.setdefault("progress", False)
        run = await arun_experiment(dataset, target, scorers, **options)
        return self._check(run, thresholds, max_error_rate)

    def _check(
        self, run: ExperimentRun, thresholds: Sequence[str], max_error_rate: float | None
    ) -> ExperimentRun:
        from contrail.evals.config import Threshold
        from contrail.evals.reports import judge

        self._runs.append((self._node_id, run))
        for result in sorted(run.results, key=lambda r: r.item_id):
            self._record("contrail_item", f"{run.dataset}/{result.item_id}: {_item_line(result)}")
        self._record("contrail_experiment", f"{run.name} ({run.id})")
        verdict = judge(run, [Threshold.parse(t) for t in thresholds], max_error_rate=max_error_rate)
        if not verdict.passed:
            raise AssertionError(_failure_message(verdict))
        return run


def _item_line(result: Any) -> str:
    if result.error:
        return f"ERROR {result.error}"
    scores = " ".join(
        f"{s.name}={'error' if s.error else (s.value if s.value is not None else s.label)}"
        for s in result.scores
    )
    return ("FAIL " if result.failed else "PASS ") + scores


def _failure_message(verdict: Verdict) -> str:
    lines = [f"evaluation {verdict.run.name!r} on {verdict.run.dataset!r} failed:"]
    lines += [f"  - {line}" for line in verdict.failures()]
    failing = [r for r in sorted(verdict.run.results, key=lambda r: r.item_id) if r.failed]
    if failing:
        lines.append(f"failing items ({len(failing)}):")
        lines += [f"  {r.item_id}: {_item_line(r)}"[:300] for r in failing[:_MAX_REPORTED]]
    return "\n".join(lines)


@pytest.fixture
def contrail_eval(request: pytest.FixtureRequest) -> ContrailEval:
    """Run a dataset through a target and assert thresholds (see the module docstring)."""
    runs = request.config.stash.setdefault(_RUNS_KEY, [])
    node = request.node

    def record(name: str, value: object) -> None:
        # like record_property, without its warning under junit_family=xunit2
        node.user_properties.append((name, value))

    return ContrailEval(node.nodeid, record, runs)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    runs = config.stash.get(_RUNS_KEY, [])
    if not runs:
        return
    terminalreporter.section("contrail evaluations")
    for node_id, run in runs:
        metrics = run.metrics()
        scores = ", ".join(f"{k}={v:.3f}" for k, v in sorted(metrics.items()) if k.endswith(".mean"))
        terminalreporter.write_line(f"{node_id}: {run.name} ({run.id}) {len(run.results)} items {scores}")
        for result in sorted(run.results, key=lambda r: r.item_id)[:_MAX_REPORTED]:
            terminalreporter.write_line(f"    {result.item_id}: {_item_line(result)}"[:300])
        if len(run.results) > _MAX_REPORTED:
            terminalreporter.write_line(f"    ... {len(run.results) - _MAX_REPORTED} more items")
