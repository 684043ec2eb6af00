"""docs/sdk.md stays true: the quickstart runs and every SDK environment variable is documented."""

import re
from pathlib import Path

from contrail.sdk.config import ENV_VARS

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def test_every_env_var_is_documented_under_configuration():
    text = DOC.read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(CONTRAIL_[A-Z_]+)`", section))
    assert documented == set(ENV_VARS)


def test_quickstart_snippet_runs_and_exports(ingest_server, monkeypatch):
    monkeypatch.setenv("CONTRAIL_HOST", ingest_server.url)
    snippet = re.search(r"## Quickstart\n\n```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    exec(compile(snippet, str(DOC), "exec"), {})
    names = {o["name"] for o in ingest_server.recorder.observations()}
    assert names == {"answer", "search", "llm"}
    (score,) = ingest_server.recorder.scores()
    assert score["name"] == "helpful" and score["value"] is True
