"""Web UI accounts: users, their role in each project, sign-in sessions and the sign-in throttle.

Passwords are hashed with argon2 (argon2-cffi's defaults). A superuser is admin of every project
and may create projects; everyone else sees only the projects they are a member of, with one role
each: ``viewer`` reads, ``member`` also manages API keys, ``admin`` also manages members.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import secrets
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from contrail.schema.ids import uuid7
from contrail.schema.timeconv import now_us
from contrail.store.account_tables import memberships, signin_failures, ui_sessions, users
from contrail.store.database import writing
from contrail.store.tables import projects

Role = Literal["viewer", "member", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "member", "admin")
Action = Literal["read", "manage_keys", "manage_members"]
_NEEDS: dict[Action, Role] = {"read": "viewer", "manage_keys": "member", "manage_members": "admin"}

FIRST_ADMIN_EMAIL = "admin@contrail.local"
SESSION_SECONDS = 7 * 24 * 3600
MIN_PASSWORD_CHARS = 10
# Sign-in throttle: failures allowed per window, per (address, e-mail) and per address.
THROTTLE_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 50

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the e-mail is unknown, so a miss costs as much as a wrong password.

    Made on first use, not at import: hashing takes ~150 ms and 64 MB, which every process that
    imports the store (the writer process, the CLI) would otherwise pay for nothing.
    """
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """An account operation cannot be done; the message says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    is_superuser: bool
    created_us: int


@dataclasses.dataclass(frozen=True, slots=True)
class Membership:
    """A user's role in one project (superusers get ``admin`` in every project)."""

    project_id: str
    project_name: str
    role: Role


@dataclasses.dataclass(frozen=True, slots=True)
class Member:
    user: User
    role: Role


@dataclasses.dataclass(frozen=True, slots=True)
class UiSession:
    user: User
    csrf_token: str
    project_id: str | None
    expires_us: int


@dataclasses.dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of a sign-in: a user, or why not (``retry_after`` seconds when throttled)."""

    user: User | None
    retry_after: int | None = None


def can(role: Role | None, action: Action) -> bool:
    """Whether ``role`` may perform ``action`` (roles are ordered viewer < member < admin)."""
    return role is not None and ROLES.index(role) >= ROLES.index(_NEEDS[action])


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise AccountError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")


def generate_password() -> str:
    return secrets.token_urlsafe(15)


# --- users ---------------------------------------------------------------------------------------


def create_user(engine: Engine, email: str, password: str, *, superuser: bool = False) -> User:
    """Create a user; raises AccountError for a malformed e-mail, short password or taken e-mail."""
    email = _normal_email(email)
    _check_password(password)
    now = now_us()
    user = User(id=uuid7(), email=email, is_superuser=superuser, created_us=now)
    try:
        with writing(engine).begin() as connection:
            connection.execute(
                insert(users).values(
                    **dataclasses.asdict(user), password_hash=_hasher.hash(password), password_changed_us=now
                )
            )
    except IntegrityError as exc:
        raise AccountError(f"A user with the e-mail {email!r} already exists.") from exc
    return user


def find_user(engine: Engine, email: str) -> User | None:
    with engine.connect() as connection:
        row = connection.execute(_user_query().where(users.c.email == email.strip().lower())).first()
    return None if row is None else _user(row)


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as connection:
        return [_user(row) for row in connection.execute(_user_query().order_by(users.c.created_us))]


def set_password(engine: Engine, user_id: str, password: str) -> None:
    """Replace a user's password and end all of their sessions."""
    _check_password(password)
    with writing(engine).begin() as connection:
        connection.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=_hasher.hash(password), password_changed_us=now_us())
        )
        connection.execute(delete(ui_sessions).where(ui_sessions.c.user_id == user_id))


def check_password(engine: Engine, user_id: str, password: str) -> bool:
    with engine.connect() as connection:
        stored = connection.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar()
    return stored is not None and _verify(stored, password)


def ensure_first_admin(engine: Engine) -> tuple[User, str] | None:
    """On first run (no users yet), create a superuser with a generated password and return both."""
    with engine.connect() as connection:
        if connection.execute(select(func.count()).select_from(users)).scalar_one():
            return None
    password = generate_password()
    try:
        user = create_user(engine, FIRST_ADMIN_EMAIL, password, superuser=True)
    except AccountError:
        return None  # another server process created it just now
    return user, password


# --- roles ---------------------------------------------------------------------------------------


def set_role(engine: Engine, user_id: str, project_id: str, role: Role) -> None:
    """Give a user ``role`` in a project (adding or changing the membership)."""
    with writing(engine).begin() as connection:
        updated = connection.execute(
            update(memberships)
            .where(memberships.c.user_id == user_id, memberships.c.project_id == project_id)
            .values(role=role)
        )
        if updated.rowcount == 0:
            connection.execute(
                insert(memberships).values(
                    user_id=user_id, project_id=project_id, role=role, created_us=now_us()
                )
            )


def remove_member(engine: Engine, user_id: str, project_id: str) -> None:
    with writing(engine).begin() as connection:
        connection.execute(
            delete(memberships).where(
                memberships.c.user_id == user_id, memberships.c.project_id == project_id
            )
        )


def memberships_of(engine: Engine, user: User) -> list[Membership]:
    """The projects ``user`` may see, oldest project first, with the user's role in each."""
    with engine.connect() as connection:
        if user.is_superuser:
            query = select(projects.c.id, projects.c.name).order_by(projects.c.created_us)
            return [Membership(row[0], row[1], "admin") for row in connection.execute(query)]
        joined = (
            select(projects.c.id, projects.c.name, memberships.c.role)
            .join(memberships, memberships.c.project_id == projects.c.id)
            .where(memberships.c.user_id == user.id)
            .order_by(projects.c.created_us)
        )
        return [Membership(row[0], row[1], check_role(row[2])) for row in connection.execute(joined)]


def list_members(engine: Engine, project_id: str) -> list[Member]:
    """A project's members by e-mail (superusers, admin everywhere, are not listed)."""
    query = (
        _user_query()
        .add_columns(memberships.c.role)
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.project_id == project_id)
        .order_by(users.c.email)
    )
    with engine.connect() as connection:
        return [Member(_user(row), check_role(row[4])) for row in connection.execute(query)]


# --- sign-in and sessions ------------------------------------------------------------------------


def sign_in(engine: Engine, email: str, password: str, address: str) -> SignIn:
    """Check an e-mail and password, counting failures per (address, e-mail) and per address.

    Once either count reaches its limit within the window, further attempts are refused without
    checking the password until the window ends (``retry_after`` seconds).
    """
    email = email.strip().lower()
    keys = (_throttle_key(address, email), _throttle_key(address, ""))
    limits = (MAX_FAILURES_PER_EMAIL, MAX_FAILURES_PER_ADDRESS)
    now = now_us()
    with engine.connect() as connection:
        for key, limit in zip(keys, limits, strict=True):
            wait = _throttled_for(connection, key, limit, now)
            if wait:
                return SignIn(None, retry_after=wait)
        row = connection.execute(
            _user_query().add_columns(users.c.password_hash).where(users.c.email == email)
        ).first()
    if row is None:
        _verify(_dummy_hash(), password)
    elif _verify(row[4], password):
        with writing(engine).begin() as connection:
            connection.execute(delete(signin_failures).where(signin_failures.c.key_hash == keys[0]))
        return SignIn(_user(row))
    with writing(engine).begin() as connection:
        for key in keys:
            _count_failure(connection, key, now)
    return SignIn(None)


def start_session(engine: Engine, user: User, project_id: str | None) -> str:
    """Create a session for ``user``; returns the token for the cookie (stored only hashed)."""
    token = secrets.token_urlsafe(32)
    now = now_us()
    with writing(engine).begin() as connection:
        connection.execute(delete(ui_sessions).where(ui_sessions.c.expires_us < now))
        stale = now - THROTTLE_WINDOW_SECONDS * 1_000_000
        connection.execute(delete(signin_failures).where(signin_failures.c.window_start_us < stale))
        connection.execute(
            insert(ui_sessions).values(
                token_hash=_sha256(token),
                user_id=user.id,
                csrf_token=secrets.token_urlsafe(32),
                project_id=project_id,
                created_us=now,
                expires_us=now + SESSION_SECONDS * 1_000_000,
            )
        )
    return token


def find_session(engine: Engine, token: str) -> UiSession | None:
    """The live session for a cookie token, or None (unknown, expired, or the user was deleted)."""
    query = (
        _user_query()
        .add_columns(ui_sessions.c.csrf_token, ui_sessions.c.project_id, ui_sessions.c.expires_us)
        .join(ui_sessions, ui_sessions.c.user_id == users.c.id)
        .where(ui_sessions.c.token_hash == _sha256(token), ui_sessions.c.expires_us > now_us())
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    return UiSession(_user(row), csrf_token=row[4], project_id=row[5], expires_us=row[6])


def set_session_project(engine: Engine, token: str, project_id: str) -> None:
    with writing(engine).begin() as connection:
        connection.execute(
            update(ui_sessions)
            .where(ui_sessions.c.token_hash == _sha256(token))
            .values(project_id=project_id)
        )


def end_session(engine: Engine, token: str) -> None:
    with writing(engine).begin() as connection:
        connection.execute(delete(ui_sessions).where(ui_sessions.c.token_hash == _sha256(token)))


# --- internals -----------------------------------------------------------------------------------


def _user_query() -> Select[tuple[str, str, bool, int]]:
    """The four columns of ``User``, in its field order."""
    return select(users.c.id, users.c.email, users.c.is_superuser, users.c.created_us)


def _user(row: Any) -> User:
    return User(id=row[0], email=row[1], is_superuser=bool(row[2]), created_us=row[3])


def _normal_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"{email!r} is not an e-mail address.")
    return email


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"A password needs at least {MIN_PASSWORD_CHARS} characters.")
    if len(password) > 1024:
        raise AccountError("A password may have at most 1024 characters.")


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _throttle_key(address: str, email: str) -> str:
    return _sha256(f"{address}\x00{email}")


def _throttled_for(connection: Connection, key: str, limit: int, now: int) -> int:
    """Seconds until ``key`` may try again (0: it may try now)."""
    row = connection.execute(
        select(signin_failures.c.window_start_us, signin_failures.c.failures).where(
            signin_failures.c.key_hash == key
        )
    ).first()
    if row is None:
        return 0
    window_end = row[0] + THROTTLE_WINDOW_SECONDS * 1_000_000
    if row[1] < limit or window_end <= now:
        return 0
    return max(1, int(window_end - now) // 1_000_000)


def _count_failure(connection: Connection, key: str, now: int) -> None:
    window_open = now - THROTTLE_WINDOW_SECONDS * 1_000_000
    counted = connection.execute(
        update(signin_failures)
        .where(signin_failures.c.key_hash == key, signin_failures.c.window_start_us > window_open)
        .values(failures=signin_failures.c.failures + 1)
    )
    if counted.rowcount:
        return
    restarted = connection.execute(
        update(signin_failures)
        .where(signin_failures.c.key_hash == key)
        .values(window_start_us=now, failures=1)
    )
    if not restarted.rowcount:
        connection.execute(insert(signin_failures).values(key_hash=key, window_start_us=now, failures=1))
