"""First run creates the first admin (saved and printed like the first key); `contrail users`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from contrail.cli.main import cli
from contrail.cli.server import _print_banner
from contrail.store import accounts
from contrail.store.database import open_engine


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONTRAIL_HOME", str(tmp_path))
    monkeypatch.delenv("CONTRAIL_DATABASE_URL", raising=False)
    return tmp_path


def _run(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_first_run_creates_an_admin_whose_password_is_saved_and_printed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run("keys", "list")
    path = home / "first-run-credentials.json"
    saved = json.loads(path.read_text())
    assert saved["admin_email"] == accounts.FIRST_ADMIN_EMAIL
    assert saved["secret_key"].startswith("sk-ctl-")  # the key is still there too
    assert path.stat().st_mode & 0o077 == 0
    engine = open_engine(f"sqlite:///{home / 'contrail.db'}")
    try:
        signed = accounts.sign_in(engine, saved["admin_email"], saved["admin_password"], "127.0.0.1")
        assert signed.user is not None and signed.user.is_superuser
    finally:
        engine.dispose()
    _run("keys", "list")  # a second start creates nobody new
    assert json.loads(path.read_text())["admin_password"] == saved["admin_password"]

    _print_banner("http://127.0.0.1:7878", saved, "sqlite:///x.db")
    banner = capsys.readouterr().err
    assert "http://127.0.0.1:7878/login" in banner
    assert saved["admin_password"] in banner


def test_users_create_gives_a_role_and_prints_a_password_once(home: Path) -> None:
    out = _run("users", "create", "--email", "Dana@Example.com", "--role", "viewer")
    assert "Created dana@example.com: viewer of project default" in out
    password = out.split("Password: ", 1)[1].split()[0]
    again = _run("users", "create", "--email", "dana@example.com", "--role", "admin")
    assert "Updated dana@example.com: admin" in again and "Password" not in again
    engine = open_engine(f"sqlite:///{home / 'contrail.db'}")
    try:
        user = accounts.sign_in(engine, "dana@example.com", password, "127.0.0.1").user
        assert user is not None
        assert [m.role for m in accounts.memberships_of(engine, user)] == ["admin"]
    finally:
        engine.dispose()
    assert "dana@example.com" in _run("users", "list")


def test_users_create_reads_a_password_from_stdin_and_rejects_bad_input(home: Path) -> None:
    out = _run(
        "users", "create", "--email", "eve@example.com", "--password-stdin", stdin="chosen password 1\n"
    )
    assert "Password:" not in out
    result = CliRunner().invoke(
        cli, ["users", "create", "--email", "x@example.com", "--password-stdin"], input="short\n"
    )
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
    result = CliRunner().invoke(cli, ["users", "create", "--email", "y@example.com", "--project", "nope"])
    assert result.exit_code == 1
    assert "No project named 'nope'" in result.output
