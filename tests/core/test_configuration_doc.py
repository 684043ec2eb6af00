"""docs/configuration.md lists exactly the server's settings."""

from __future__ import annotations

import re
from pathlib import Path

from contrail.server.settings import Settings

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def _server_section() -> str:
    text = DOC.read_text()
    return text.split("## Server", 1)[1].split("\n## ", 1)[0]


def test_every_setting_is_documented_and_nothing_else() -> None:
    documented = set(re.findall(r"^\| `(CONTRAIL_[A-Z_]+)`", _server_section(), flags=re.MULTILINE))
    declared = {f"CONTRAIL_{name.upper()}" for name in Settings.model_fields}
    assert documented == declared


def test_settings_read_their_environment_variables(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CONTRAIL_PORT", "9123")
    monkeypatch.setenv("CONTRAIL_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = Settings()
    assert settings.port == 9123
    assert settings.resolved_database_url() == "postgresql+psycopg://u@h/db"
