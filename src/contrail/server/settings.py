"""Server settings: the only place Contrail's server reads environment variables.

Every field is ``CONTRAIL_<NAME>``; docs/configuration.md lists each one (a test keeps them in step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONTRAIL_", extra="ignore")

    home: Path = Field(
        default=Path("~/.contrail"), description="Folder for the embedded SQLite database and local state."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. Unset: SQLite in CONTRAIL_HOME.",
    )
    # Not CONTRAIL_HOST: that is the SDK's server URL, and both may be set in one environment.
    bind_host: str = Field(default="127.0.0.1", description="Address `contrail server` listens on.")
    port: int = Field(default=7878, ge=1, le=65535, description="Port `contrail server` listens on.")
    workers: int = Field(default=1, ge=1, le=64, description="Server processes `contrail server` starts.")
    max_request_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest accepted request body as sent (compressed)."
    )
    max_decompressed_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest request body after gzip decompression."
    )
    max_spans_per_request: int = Field(default=10_000, ge=1, description="Most spans or events per request.")
    max_value_bytes: int = Field(
        default=256 * 1024,
        ge=256,
        description="Largest attribute value or input/output kept per span; larger ones are truncated.",
    )
    write_queue_spans: int = Field(
        default=100_000, ge=100, description="Spans waiting to be written before ingest answers 503."
    )
    ingest_concurrency: int = Field(
        default=16,
        ge=1,
        description="Ingest requests read, decoded and awaiting their commit at once; more wait their turn "
        "unread, so memory does not grow with the number of clients.",
    )
    write_group_spans: int = Field(
        default=5_000, ge=1, description="Most spans the writer commits in one transaction."
    )
    writer_process: bool = Field(
        default=True,
        description="Run the single database writer in a child process of its own (its own core and GIL: "
        "+49% ingest throughput measured on two cores). Off: a thread in the server process.",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="SQLite synchronous pragma; NORMAL trades power-loss durability for speed.",
    )
    key_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a verified API key is trusted before it is checked again."
    )
    log_level: str = Field(default="INFO", description="Python logging level of the server.")
    public_url: str | None = Field(
        default=None,
        description="The server's address as users reach it, for links in webhooks. Unset: http://BIND_HOST:PORT.",
    )
    alert_check_seconds: float = Field(
        default=60.0, ge=0.05, le=86_400, description="How often budgets are checked against spend."
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=30, description="Attempts per webhook delivery before it is marked failed."
    )
    webhook_retry_base_seconds: float = Field(
        default=30.0, ge=0.01, le=3600, description="Wait before the first retry; doubles after each failure."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="How long a webhook receiver may take to answer."
    )
    webhook_allow_private: bool = Field(
        default=True,
        description="Allow webhooks to private, loopback and link-local addresses; false: public ones only.",
    )
    online_evals: bool = Field(
        default=True, description="Run the online-evaluation worker inside each server process."
    )
    online_eval_poll_seconds: float = Field(
        default=2.0, gt=0, le=3600, description="How often an idle online-evaluation worker looks for work."
    )
    online_eval_settle_seconds: float = Field(
        default=10.0, ge=0, le=86_400, description="How long after a span arrives its trace is sampled."
    )
    online_eval_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="How long a claimed job is a worker's before others retry it.",
    )
    online_eval_max_attempts: int = Field(
        default=3, ge=1, le=20, description="Claims per online-evaluation job before it is marked failed."
    )
    online_eval_batch_size: int = Field(
        default=16, ge=1, le=1000, description="Jobs a worker claims and scores concurrently."
    )
    playground_openai_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint the prompt playground may call, e.g. https://api.openai.com/v1.",
    )
    playground_openai_api_key: SecretStr | None = Field(
        default=None,
        description="API key sent to CONTRAIL_PLAYGROUND_OPENAI_BASE_URL (never shown or logged).",
    )
    playground_timeout_seconds: float = Field(
        default=60.0, gt=0, le=600, description="How long a playground run may wait for the model."
    )

    def resolved_home(self) -> Path:
        return self.home.expanduser()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home() / 'contrail.db'}"
