"""The README's quickstart snippet runs as written against a live server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import LiveContrail

README = Path(__file__).parents[2] / "README.md"


def _quickstart_code() -> str:
    block = README.read_text().split("<!-- quickstart:begin -->", 1)[1].split("<!-- quickstart:end -->", 1)[0]
    match = re.search(r"```python\n(.*?)```", block, flags=re.DOTALL)
    assert match, "README quickstart block is missing"
    return match.group(1)


def test_readme_starts_with_the_two_commands() -> None:
    head = README.read_text()[:600]
    assert "make run" in head
    assert "make test" in head


def test_quickstart_snippet_sends_a_trace_the_api_returns(sqlite_contrail: LiveContrail) -> None:
    env = dict(os.environ, CONTRAIL_HOST=sqlite_contrail.url, CONTRAIL_SECRET_KEY=sqlite_contrail.secret_key)
    result = subprocess.run(
        [sys.executable, "-c", _quickstart_code()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    trace_id = result.stdout.split("sent trace", 1)[1].strip()
    with sqlite_contrail.client() as client:
        listed = client.get("/api/v1/traces", params={"user_id": "alice"}).json()["data"]
    assert [t["trace_id"] for t in listed] == [trace_id]
    assert listed[0]["total_tokens"] == 105
