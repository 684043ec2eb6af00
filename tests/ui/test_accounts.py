"""store.accounts on SQLite and PostgreSQL: users, roles, sessions, the sign-in throttle, first admin."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, select, update

from contrail.store import accounts
from contrail.store.account_tables import signin_failures, ui_sessions, users
from contrail.store.database import open_engine, writing
from contrail.store.migrate import upgrade
from contrail.store.projects import create_project

PASSWORD = "a long enough password"


def _email() -> str:
    return f"u-{uuid.uuid4().hex[:10]}@Example.com"


def test_users_are_unique_by_normalised_email_and_passwords_are_hashed(engine: Engine) -> None:
    email = _email()
    user = accounts.create_user(engine, email, PASSWORD)
    assert user.email == email.lower()
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.create_user(engine, email.upper(), PASSWORD)
    with pytest.raises(accounts.AccountError, match="at least 10"):
        accounts.create_user(engine, _email(), "short")
    with pytest.raises(accounts.AccountError, match="not an e-mail"):
        accounts.create_user(engine, "no-at-sign", PASSWORD)
    assert accounts.check_password(engine, user.id, PASSWORD)
    assert not accounts.check_password(engine, user.id, PASSWORD + "x")
    with engine.connect() as connection:
        stored = connection.execute(select(users.c.password_hash).where(users.c.id == user.id)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_roles_are_per_project_and_superusers_are_admin_everywhere(engine: Engine) -> None:
    first = create_project(engine, f"p-{uuid.uuid4().hex[:8]}")
    second = create_project(engine, f"p-{uuid.uuid4().hex[:8]}")
    user = accounts.create_user(engine, _email(), PASSWORD)
    accounts.set_role(engine, user.id, first.id, "viewer")
    accounts.set_role(engine, user.id, first.id, "member")  # changes, does not duplicate
    assert [(m.project_id, m.role) for m in accounts.memberships_of(engine, user)] == [(first.id, "member")]
    assert [m.user.id for m in accounts.list_members(engine, first.id)] == [user.id]
    assert accounts.list_members(engine, second.id) == []
    accounts.remove_member(engine, user.id, first.id)
    assert accounts.memberships_of(engine, user) == []

    boss = accounts.create_user(engine, _email(), PASSWORD, superuser=True)
    roles = {m.project_id: m.role for m in accounts.memberships_of(engine, boss)}
    assert roles[first.id] == roles[second.id] == "admin"


def test_permissions_by_role() -> None:
    assert [accounts.can(r, "read") for r in accounts.ROLES] == [True, True, True]
    assert [accounts.can(r, "manage_keys") for r in accounts.ROLES] == [False, True, True]
    assert [accounts.can(r, "manage_members") for r in accounts.ROLES] == [False, False, True]
    assert not accounts.can(None, "read")
    with pytest.raises(accounts.AccountError, match="Unknown role"):
        accounts.check_role("owner")


def test_sessions_expire_and_end_with_a_password_change(engine: Engine) -> None:
    user = accounts.create_user(engine, _email(), PASSWORD)
    token = accounts.start_session(engine, user, None)
    found = accounts.find_session(engine, token)
    assert found is not None and found.user.id == user.id and len(found.csrf_token) >= 32
    assert accounts.find_session(engine, token + "x") is None
    with writing(engine).begin() as connection:
        connection.execute(update(ui_sessions).where(ui_sessions.c.user_id == user.id).values(expires_us=0))
    assert accounts.find_session(engine, token) is None

    second = accounts.start_session(engine, user, None)
    accounts.set_password(engine, user.id, "another long password")
    assert accounts.find_session(engine, second) is None
    assert accounts.check_password(engine, user.id, "another long password")


def test_throttle_blocks_after_the_limit_and_reopens_after_the_window(engine: Engine) -> None:
    email = _email()
    accounts.create_user(engine, email, PASSWORD)
    address = f"10.0.0.{uuid.uuid4().int % 250}"
    for _ in range(accounts.MAX_FAILURES_PER_EMAIL):
        assert accounts.sign_in(engine, email, "wrong", address).user is None
    blocked = accounts.sign_in(engine, email, PASSWORD, address)
    assert blocked.user is None and blocked.retry_after is not None
    assert 0 < blocked.retry_after <= accounts.THROTTLE_WINDOW_SECONDS
    assert accounts.sign_in(engine, email, PASSWORD, "10.9.9.9").user is not None  # another address
    with writing(engine).begin() as connection:  # the window passes
        connection.execute(update(signin_failures).values(window_start_us=0))
    assert accounts.sign_in(engine, email, PASSWORD, address).user is not None


def test_first_admin_is_created_once(empty_database_url: str) -> None:
    engine = open_engine(empty_database_url)
    try:
        upgrade(engine)
        created = accounts.ensure_first_admin(engine)
        assert created is not None
        user, password = created
        assert user.is_superuser and user.email == accounts.FIRST_ADMIN_EMAIL
        assert accounts.sign_in(engine, user.email, password, "127.0.0.1").user == user
        assert accounts.ensure_first_admin(engine) is None
    finally:
        engine.dispose()
