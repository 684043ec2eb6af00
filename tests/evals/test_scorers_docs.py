"""docs/evals-scorers.md: every Python block runs and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "evals-scorers.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def _expected_lines(code: str) -> list[str]:
    """The ``# ...`` output written after print calls (inline or on the following comment lines)."""
    expected = []
    for line in code.splitlines():
        stripped = line.strip()
        if stripped.startswith("print(") and "#" in line:
            expected.append(line.rsplit("#", 1)[1].strip())
        elif stripped.startswith("# ") and not stripped.startswith("# ScoreResult"):
            expected.append(stripped[2:])
    return expected


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_runs_and_prints_what_it_says(code: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__docs__"})
    printed = [line.strip() for line in out.getvalue().splitlines()]
    for expected in _expected_lines(code):
        assert expected in printed, (expected, printed)
