"""Tables for people who use the Web UI: users, their roles per project, sign-in sessions and throttle.

Kept apart from ``store.tables`` (traces and keys) but on the same ``metadata``; migration 0002
creates them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table

from contrail.store.tables import metadata

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("is_superuser", Boolean, nullable=False, default=False),
    Column("created_us", BigInteger, nullable=False),
    Column("password_changed_us", BigInteger, nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", String(36), ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(12), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Index(None, "project_id"),
)

# The cookie holds a random token; only its SHA-256 is stored, so a database leak yields no sessions.
ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("project_id", String(36)),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Index(None, "user_id"),
    Index(None, "expires_us"),
)

# Failed sign-ins per (client address, e-mail) and per client address, in fixed windows; in the
# database so every server replica counts the same attempts.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("window_start_us", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False),
)
