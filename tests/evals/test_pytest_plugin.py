"""The pytest plugin: an evaluation as a test, each item reported, thresholds asserted."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INNER = """
import pytest
from contrail.evals.base import ScoreResult
from contrail.evals.client import DatasetItem, MemoryBackend

pytest_plugins = ["contrail.evals.pytest_plugin"]


class Exact:
    name = "exact"

    async def score(self, case):
        ok = case.output == case.expected
        return ScoreResult("exact", value=float(ok), passed=ok)


def store():
    items = [DatasetItem(f"item-{i}", f"q{i}", f"Q{i}") for i in range(4)]
    return MemoryBackend({"qa": items})


def answer(q):
    return q.upper() if q != "q3" else "wrong"


def test_good_enough(contrail_eval):
    run = contrail_eval("qa", answer, [Exact()], thresholds=["exact.mean >= 0.7"], backend=store(),
                        tracing=False)
    assert run.metrics()["exact.mean"] == 0.75


def test_not_good_enough(contrail_eval):
    contrail_eval("qa", answer, [Exact()], thresholds=["exact.mean >= 0.9"], backend=store(), tracing=False)


async def test_async(contrail_eval):
    await contrail_eval.arun("qa", answer, [Exact()], thresholds=["exact.mean >= 0.7"], backend=store(),
                             tracing=False)
"""


def test_thresholds_pass_and_fail_with_each_item_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER)
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest(f"--junitxml={junit}", "-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*threshold exact.mean >= 0.9 failed (actual 0.750)*",
            "*failing items (1):*",
            "*item-3: FAIL exact=0.0*",
            "*contrail evaluations*",
            "*test_good_enough*4 items exact.mean=0.750*",
            "*item-0: PASS exact=1.0*",
        ]
    )
    xml = junit.read_text()
    assert 'name="contrail_item" value="qa/item-3: FAIL exact=0.0"' in xml
    assert xml.count('name="contrail_item"') == 12
