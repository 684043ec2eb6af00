"""`contrail prompts push|pull|list|diff` against a live server, and the errors for bad files."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contrail.cli.main import cli
from tests.conftest import LiveContrail

TRIAGE = """\
name: support/triage
type: chat
messages:
  - role: system
    content: |
      Classify the ticket.
      Answer with one word.
  - role: user
    content: "{{ticket}}"
config:
  model: gpt-4o-mini
  temperature: 0
labels: [staging]
tags: [support]
"""


def _run(live: LiveContrail, *args: str) -> Result:
    keys = ["--host", live.url, "--public-key", live.public_key, "--secret-key", live.secret_key]
    return CliRunner().invoke(cli, ["prompts", *args, *keys])


def test_push_creates_only_changed_prompts_then_pull_list_diff(
    sqlite_contrail: LiveContrail, tmp_path: Path
) -> None:
    source = tmp_path / "prompts"
    (source / "support").mkdir(parents=True)
    (source / "support" / "triage.yaml").write_text(TRIAGE)
    (source / "greet.v1.yaml").write_text("prompt: Hello {{name}}\n")  # name from the path, dots kept

    dry = _run(sqlite_contrail, "push", str(source), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would create" in dry.output
    with sqlite_contrail.client() as http:
        assert http.get("/api/v1/prompts").json()["data"] == []

    first = _run(sqlite_contrail, "push", str(source), "--label", "production")
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == 2
    again = _run(sqlite_contrail, "push", str(source))
    assert again.output.count("unchanged") == 2 and "created" not in again.output

    (source / "greet.v1.yaml").write_text("prompt: Hello {{name}}!\nlabels: [canary]\n")
    changed = _run(sqlite_contrail, "push", str(source))
    assert "created" in changed.output and changed.output.count("unchanged") == 1
    with sqlite_contrail.client() as http:
        greet = http.get("/api/v1/prompts/greet.v1", params={"label": "canary"}).json()
        triage = http.get("/api/v1/prompts/support/triage").json()
    assert greet["version"] == 2 and greet["prompt"] == "Hello {{name}}!"
    assert triage["labels"] == ["latest", "production", "staging"] and triage["tags"] == ["support"]
    assert triage["prompt"][0]["content"] == "Classify the ticket.\nAnswer with one word.\n"

    listed = _run(sqlite_contrail, "list")
    assert "support/triage" in listed.output and "greet.v1" in listed.output

    diff = _run(sqlite_contrail, "diff", "greet.v1", "1", "2")
    assert "-Hello {{name}}" in diff.output and "+Hello {{name}}!" in diff.output

    pulled = tmp_path / "pulled"
    assert _run(sqlite_contrail, "pull", str(pulled)).exit_code == 0
    assert (pulled / "support" / "triage.yaml").is_file() and (pulled / "greet.v1.yaml").is_file()
    # What was pulled pushes back as unchanged: the round trip keeps the content exactly.
    round_trip = _run(sqlite_contrail, "push", str(pulled))
    assert round_trip.output.count("unchanged") == 2, round_trip.output


@pytest.mark.parametrize(
    ("file_text", "fragment"),
    [
        ("name: x\nprompt: a\n  bad: b\n", "bad.yaml line 3: mapping values are not allowed"),
        ("name: x\nprompt: Hi {{name\n", "position 3"),
        ("name: bad name\nprompt: x\n", "letters, digits"),
        ("name: x\ntype: chat\nmessages: hello\n", "non-empty list"),
        ("name: x\nprompt: x\nlabels: [Prod]\n", "lowercase"),
        ("name: x\npromt: typo\n", "unknown keys promt"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_bad_files_are_reported_with_file_and_nothing_is_pushed(
    sqlite_contrail: LiveContrail, tmp_path: Path, file_text: str, fragment: str
) -> None:
    (tmp_path / "good.yaml").write_text("prompt: fine\n")
    (tmp_path / "bad.yaml").write_text(file_text)
    result = _run(sqlite_contrail, "push", str(tmp_path))
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and fragment in result.output
    assert "Traceback" not in result.output
    with sqlite_contrail.client() as http:
        assert http.get("/api/v1/prompts").json()["data"] == []


def test_server_errors_are_clear_messages(sqlite_contrail: LiveContrail, tmp_path: Path) -> None:
    missing = _run(sqlite_contrail, "diff", "nope", "1", "2")
    assert (
        missing.exit_code == 1 and "HTTP 404" in missing.output and "No prompt named 'nope'" in missing.output
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    down = CliRunner().invoke(
        cli, ["prompts", "list", "--host", f"http://127.0.0.1:{port}", "--secret-key", "sk-x"]
    )
    assert down.exit_code == 1 and "Cannot reach" in down.output
    no_key = CliRunner().invoke(
        cli, ["prompts", "list", "--host", sqlite_contrail.url], env={"CONTRAIL_SECRET_KEY": ""}
    )
    assert no_key.exit_code == 1 and "No API key" in no_key.output
    bad_label = _run(sqlite_contrail, "push", str(tmp_path), "--label", "NOPE")
    assert bad_label.exit_code == 1 and "lowercase" in bad_label.output
