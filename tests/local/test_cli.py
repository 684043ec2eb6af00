"""The ``fake-llm`` and ``local`` click groups (main.py registers them; here they run on their own)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from click.testing import CliRunner

from contrail.cli.fake_llm import fake_llm_group
from contrail.cli.local import local_group


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], deadline_s: float = 15.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.stderr.read() if process.stderr else ''!r}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.02)
    raise AssertionError(f"{url} did not answer within {deadline_s} s")


@pytest.fixture
def served_fake() -> Iterator[str]:
    port = _free_port()
    code = "from contrail.cli.fake_llm import fake_llm_group; fake_llm_group()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--model", "gpt-*"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", process)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_fake_llm_serve_answers_the_openai_sdk(served_fake: str) -> None:
    with openai.OpenAI(base_url=served_fake, api_key="k", max_retries=0) as client:
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ping"}])
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="claude-x", messages=[{"role": "user", "content": "ping"}])
    assert reply.choices[0].message.content == "ping"


def test_groups_expose_serve_with_port_option() -> None:
    runner = CliRunner()
    for group in (fake_llm_group, local_group):
        result = runner.invoke(group, ["serve", "--help"])
        assert result.exit_code == 0
        assert "--port" in result.output


def test_local_serve_without_the_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    result = CliRunner().invoke(local_group, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "pip install 'contrail-llmops[local]'" in result.output
