"""Online evaluation rules: which production traces (or observations) to score, how often, with what.

A rule has a filter (the trace/observation filter fields of ``store.filters``), a sampling percentage
applied by hashing the trace id (so every server replica and worker picks the same traces), a scorer
spec (``build_scorer``) and a target: the trace's root observation, or each matching observation.
The sampler (``contrail.evals.online_jobs``) turns matching new data into jobs; workers
(``contrail.evals.online_worker``) score them. See docs/evals-online.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from contrail.evals.scorers.spec import build_scorer
from contrail.schema.ids import uuid7
from contrail.schema.observation import Level, ObservationType
from contrail.schema.timeconv import now_us, us_to_rfc3339
from contrail.store.database import writing
from contrail.store.eval_tables import eval_jobs, eval_rules
from contrail.store.filters import METADATA_KEY, Filter
from contrail.store.tables import observations

Target = Literal["trace", "observation"]
_SHORT = Field(default=None, min_length=1, max_length=200)
# Judge keys an online rule may name: server secrets (database URL, OPENAI_API_KEY) must not be
# sendable to an endpoint a rule's author chose.
_JUDGE_KEY_ENV = re.compile(r"^CONTRAIL_JUDGE_[A-Z0-9_]{1,80}$")
_LOCAL_URL = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)")


class RuleError(Exception):
    """A refused rule operation; ``kind`` maps to the HTTP status (not_found 404, conflict 409)."""

    def __init__(self, kind: Literal["not_found", "conflict", "invalid"], message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class RuleFilter(BaseModel):
    """Which traces or observations a rule looks at; the names of GET /api/v1/traces' parameters."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = _SHORT
    user_id: str | None = _SHORT
    session_id: str | None = _SHORT
    tag: list[str] = Field(default_factory=list, max_length=20)
    environment: str | None = _SHORT
    release: str | None = _SHORT
    model: str | None = _SHORT
    error: bool | None = None
    min_latency_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_latency_ms: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    min_cost: str | None = None
    max_cost: str | None = None
    metadata: list[str] = Field(default_factory=list, max_length=20, description="key=value")
    # observation targets only
    type: ObservationType | None = None
    level: Level | None = None

    @field_validator("min_cost", "max_cost")
    @classmethod
    def _money(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal amount of USD") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError("must be a finite, non-negative amount of USD")
        return value

    @field_validator("metadata")
    @classmethod
    def _pairs(cls, value: list[str]) -> list[str]:
        for pair in value:
            key, sep, _ = pair.partition("=")
            if not sep or not METADATA_KEY.match(key):
                raise ValueError(f"{pair!r} is not key=value with a plain key (letters, digits, _.:- )")
        return value

    def to_filter(self) -> Filter:
        def ms(value: float | None) -> int | None:
            return None if value is None else int(value * 1000)

        def usd(value: str | None) -> Decimal | None:
            return None if value is None else Decimal(value)

        return Filter(
            name=self.name,
            user_id=self.user_id,
            session_id=self.session_id,
            tags=list(self.tag),
            environment=self.environment,
            release=self.release,
            model=self.model,
            has_error=self.error,
            min_latency_us=ms(self.min_latency_ms),
            max_latency_us=ms(self.max_latency_ms),
            min_cost_usd=usd(self.min_cost),
            max_cost_usd=usd(self.max_cost),
            metadata=[(k, v) for k, _, v in (p.partition("=") for p in self.metadata)],
            type=None if self.type is None else self.type.value,
            level=None if self.level is None else self.level.value,
        )


class RuleIn(BaseModel):
    """A new rule. The scorer spec is checked by building it, so typos fail here, not in the worker."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    filter: RuleFilter = Field(default_factory=RuleFilter)
    sampling_percent: float = Field(ge=0, le=100, allow_inf_nan=False)
    scorer: dict[str, Any]
    target: Target = "trace"
    enabled: bool = True

    @field_validator("scorer")
    @classmethod
    def _scorer(cls, spec: dict[str, Any]) -> dict[str, Any]:
        return check_scorer(spec)

    @model_validator(mode="after")
    def _target_fields(self) -> RuleIn:
        check_target(self.target, self.filter)
        return self


class RulePatch(BaseModel):
    """Fields to change; omitted ones keep their value."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    filter: RuleFilter | None = None
    sampling_percent: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    scorer: dict[str, Any] | None = None
    target: Target | None = None
    enabled: bool | None = None

    @field_validator("scorer")
    @classmethod
    def _scorer(cls, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if spec is None else check_scorer(spec)


def check_scorer(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a scorer spec for a rule (ValueError naming the problem); returns it as a dict.

    Rules are data any project key can write and the server runs, so they get built-in scorers only
    (no ``python``), and a judge's key must come from a ``CONTRAIL_JUDGE_*`` variable, never from the
    openai client's default, unless the judge is local.
    """
    kind = spec.get("type")
    if kind == "python":
        raise ValueError("scorer type 'python' runs code on the server; online rules take built-in scorers")
    if kind == "judge":
        key_env = spec.get("api_key_env")
        if key_env is not None and not (isinstance(key_env, str) and _JUDGE_KEY_ENV.match(key_env)):
            raise ValueError("field 'api_key_env' of an online judge must name a CONTRAIL_JUDGE_* variable")
        base_url = spec.get("base_url")
        if key_env is None and isinstance(base_url, str) and not _LOCAL_URL.match(base_url):
            raise ValueError(
                "a judge with a non-local 'base_url' needs 'api_key_env' (a CONTRAIL_JUDGE_* variable)"
            )
    build_scorer(spec)  # judges open their HTTP client on first use, so there is nothing to close
    return dict(spec)


def check_target(target: str, flt: RuleFilter) -> None:
    if target == "trace" and (flt.type is not None or flt.level is not None):
        raise ValueError("filter fields 'type' and 'level' apply to target 'observation' only")


def sampled(trace_id: str, percent: float) -> bool:
    """Whether ``trace_id`` falls in the first ``percent`` of the hash space.

    Only the trace id is hashed, so every process agrees and a trace sampled at 10% is also sampled
    at 20% (rules with different rates score nested subsets, which makes their scores comparable).
    """
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(trace_id.encode()).digest()[:8], "big") % 1_000_000
    return bucket < percent * 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    id: str
    project_id: str
    name: str
    filter: RuleFilter
    sampling_percent: float
    scorer: dict[str, Any]
    target: Target
    enabled: bool
    watermark_id: int
    created_us: int
    updated_us: int

    @classmethod
    def from_row(cls, row: Any) -> Rule:
        return cls(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            filter=RuleFilter.model_validate(row.filter or {}),
            sampling_percent=row.sampling_percent,
            scorer=dict(row.scorer),
            target=row.target,
            enabled=row.enabled,
            watermark_id=row.watermark_id,
            created_us=row.created_us,
            updated_us=row.updated_us,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "filter": self.filter.model_dump(exclude_defaults=True, mode="json"),
            "sampling_percent": self.sampling_percent,
            "scorer": self.scorer,
            "target": self.target,
            "enabled": self.enabled,
            "created_at": us_to_rfc3339(self.created_us),
            "updated_at": us_to_rfc3339(self.updated_us),
        }


def _latest_observation_id(engine: Engine) -> int:
    """Where a new or re-enabled rule starts: it scores what arrives from now on."""
    with engine.connect() as connection:
        found = connection.execute(select(func.max(observations.c.id))).scalar()
    return int(found or 0)


def create_rule(engine: Engine, project_id: str, body: RuleIn) -> Rule:
    """Store a rule; RuleError("conflict") when the project already has one by that name."""
    now = now_us()
    rule_id = uuid7()
    row: dict[str, Any] = {
        "id": rule_id,
        "project_id": project_id,
        "name": body.name,
        "filter": body.filter.model_dump(exclude_defaults=True, mode="json"),
        "sampling_percent": body.sampling_percent,
        "scorer": body.scorer,
        "target": body.target,
        "enabled": body.enabled,
        "watermark_id": _latest_observation_id(engine),
        "created_us": now,
        "updated_us": now,
    }
    try:
        with writing(engine).begin() as connection:
            connection.execute(eval_rules.insert().values(**row))
    except IntegrityError:
        raise RuleError("conflict", f"This project already has a rule named {body.name!r}.") from None
    return get_rule(engine, project_id, rule_id)


def get_rule(engine: Engine, project_id: str, rule_id: str) -> Rule:
    with engine.connect() as connection:
        row = connection.execute(
            select(eval_rules).where(eval_rules.c.project_id == project_id, eval_rules.c.id == rule_id)
        ).first()
    if row is None:
        raise RuleError("not_found", f"This project has no evaluation rule {rule_id!r}.")
    return Rule.from_row(row)


def list_rules(engine: Engine, project_id: str | None = None, *, enabled_only: bool = False) -> list[Rule]:
    """A project's rules by name (every project's when ``project_id`` is None, for the sampler)."""
    query = select(eval_rules).order_by(eval_rules.c.project_id, eval_rules.c.name)
    if project_id is not None:
        query = query.where(eval_rules.c.project_id == project_id)
    if enabled_only:
        query = query.where(eval_rules.c.enabled.is_(True))
    with engine.connect() as connection:
        return [Rule.from_row(r) for r in connection.execute(query)]


def update_rule(engine: Engine, project_id: str, rule_id: str, patch: RulePatch) -> Rule:
    """Change a rule; re-enabling one moves its watermark to now (the gap is not backfilled)."""
    current = get_rule(engine, project_id, rule_id)
    target = patch.target or current.target
    flt = patch.filter if patch.filter is not None else current.filter
    try:
        check_target(target, flt)
    except ValueError as exc:
        raise RuleError("invalid", str(exc)) from None
    changes: dict[str, Any] = patch.model_dump(exclude_unset=True, exclude={"filter"})
    changes = {k: v for k, v in changes.items() if v is not None}
    if patch.filter is not None:
        changes["filter"] = patch.filter.model_dump(exclude_defaults=True, mode="json")
    if patch.enabled and not current.enabled:
        changes["watermark_id"] = _latest_observation_id(engine)
    changes["updated_us"] = now_us()
    try:
        with writing(engine).begin() as connection:
            connection.execute(
                eval_rules.update()
                .where(eval_rules.c.project_id == project_id, eval_rules.c.id == rule_id)
                .values(**changes)
            )
    except IntegrityError:
        raise RuleError("conflict", f"This project already has a rule named {patch.name!r}.") from None
    return get_rule(engine, project_id, rule_id)


def delete_rule(engine: Engine, project_id: str, rule_id: str) -> None:
    """Delete a rule and its queued jobs (scores already written stay on their traces)."""
    with writing(engine).begin() as connection:
        deleted = connection.execute(
            eval_rules.delete().where(eval_rules.c.project_id == project_id, eval_rules.c.id == rule_id)
        ).rowcount
        if deleted:
            connection.execute(
                eval_jobs.delete().where(eval_jobs.c.project_id == project_id, eval_jobs.c.rule_id == rule_id)
            )
    if not deleted:
        raise RuleError("not_found", f"This project has no evaluation rule {rule_id!r}.")
