"""Cost at ingest: fill ``Observation.cost`` from usage and the price catalogue, in exact Decimals.

Every generation/embedding observation gets a marker in ``metadata[COST_METADATA_KEY]`` saying how its
cost was obtained, so a missing cost is visible and never shown as zero:

``status``
    ``priced`` (from reported usage), ``estimated`` (usage estimated from the text), ``unpriced``
    (``reason``: ``no_model``, ``unknown_model``, ``no_usage``, ``no_unit_quantity``), ``invalid``
    (``reason`` names the bad count: negative, non-integer or above ``MAX_TOKENS``), or ``error``.
``model`` / ``effective``
    The catalogue entry (``provider/model``) and the start date of the price period used: the one valid
    at the observation's start time.
``reported_by: client``, ``client_total``, ``computed_total``, ``mismatch``
    When the client sent a cost, it is kept in ``obs.cost``; ours is recorded next to it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from contrail.analytics.catalogue import PriceCatalogue, default_catalogue
from contrail.analytics.charge import Charge, TokenCounts, charge_tokens, charge_units
from contrail.analytics.estimate import estimate_tokens
from contrail.analytics.matcher import ModelMatch
from contrail.analytics.prices import Mode, PriceEntry, PricePeriod, Unit
from contrail.schema.observation import Observation, ObservationType, Usage

__all__ = ["COST_METADATA_KEY", "MAX_TOKENS", "default_catalogue", "price_observation", "price_observations"]

logger = logging.getLogger(__name__)

COST_METADATA_KEY = "contrail_cost"
MAX_TOKENS = 10**9
# Token counts set aside by ingest because no model call could have produced them.
INVALID_USAGE_METADATA_KEY = "contrail_invalid_usage"
_USAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Usage))
# Client and computed totals further apart than this (and than 1% of ours) are flagged as a mismatch.
MISMATCH_ABSOLUTE = Decimal("0.000001")
MISMATCH_RELATIVE = Decimal("0.01")
_PRICED_TYPES = frozenset({ObservationType.GENERATION, ObservationType.EMBEDDING})
_UNIT_QUANTITY_KEYS = {
    Unit.SECOND: ("seconds", Decimal(1)),
    Unit.MINUTE: ("seconds", Decimal(60)),
    Unit.HOUR: ("seconds", Decimal(3600)),
    Unit.IMAGE: ("images", Decimal(1)),
    Unit.MILLION_CHARACTERS: ("characters", Decimal(1_000_000)),
}
_last_failure_log = [0.0]


class _Invalid(Exception):
    """Usage that cannot be priced (negative, non-integer or absurd counts)."""


def price_observations(observations: Iterable[Observation], catalogue: PriceCatalogue | None = None) -> None:
    """Fill ``obs.cost`` in place for generation and embedding observations; never raises.

    ``catalogue`` defaults to the built-in one; pass ``default_catalogue().with_overrides(...)`` for a
    project's own prices. See the module docstring for the metadata marker every priced type receives.
    """
    prices = catalogue if catalogue is not None else default_catalogue()
    for obs in observations:
        try:
            if obs.type in _PRICED_TYPES:
                price_observation(obs, prices)
            _set_aside_impossible_counts(obs)
        except Exception:  # one odd observation must never fail a whole ingest batch
            _log_failure(obs)


def _set_aside_impossible_counts(obs: Observation) -> None:
    """Move negative, non-integer or absurd token counts out of ``usage`` into the metadata.

    Pricing has already marked such a call ``invalid``; storing the counts would put them in every
    token sum, so they are kept where people can see them but nothing adds them up.
    """
    usage = obs.usage
    rejected: dict[str, Any] | None = None
    for field in _USAGE_FIELDS:
        value = getattr(usage, field)
        if value is not None and not (type(value) is int and 0 <= value <= MAX_TOKENS):
            rejected = rejected or {}
            rejected[field] = value if isinstance(value, (int, float)) else str(value)[:100]
            setattr(usage, field, None)
    if rejected is not None:
        obs.metadata[INVALID_USAGE_METADATA_KEY] = rejected


def price_observation(obs: Observation, catalogue: PriceCatalogue) -> None:
    """Price one observation (whatever its type) in place; may raise only on internal bugs."""
    client_total = obs.cost.total
    model = obs.model
    if not isinstance(model, str) or not model or model.isspace():
        _mark(obs, {"status": "unpriced", "reason": "no_model"}, None, client_total)
        return
    provider = obs.provider if isinstance(obs.provider, str) else None
    match = catalogue.match(model, provider)
    if match is None:
        marker = {"status": "unpriced", "reason": "unknown_model", "model_name": model[:200]}
        _mark(obs, marker, None, client_total)
        return
    period, before_first = match.entry.period_at(obs.start_us)
    marker = _match_marker(match, period, before_first)
    try:
        charge = _charge(obs, match, period, marker)
    except _Invalid as exc:
        marker.update(status="invalid", reason=str(exc))
        charge = None
    _mark(obs, marker, charge, client_total)


def _charge(
    obs: Observation, match: ModelMatch, period: PricePeriod, marker: dict[str, Any]
) -> Charge | None:
    entry = match.entry
    if entry.unit is not Unit.TOKEN:
        return _unit_charge(obs, entry, period, marker)
    embedding = entry.mode is Mode.EMBEDDING or obs.type is ObservationType.EMBEDDING
    counts = token_counts(obs.usage, embedding=embedding, marker=marker)
    if counts is None:
        counts = _estimated_counts(obs, embedding, marker)
        if counts is None:
            marker.update(status="unpriced", reason="no_usage")
            return None
    charge = charge_tokens(period, counts, fine_tune=match.fine_tune)
    if charge.tier is not None:
        marker["tier_above"] = charge.tier.above
    if match.fine_tune:
        marker["fine_tune"] = (
            "fine-tune rates" if charge.fine_tune_rates else "base rates (no fine-tune price listed)"
        )
    return charge


def token_counts(
    usage: Usage, *, embedding: bool = False, marker: dict[str, Any] | None = None
) -> TokenCounts | None:
    """Validated counts in Contrail's convention, or None when usage has neither input nor output.

    Raises _Invalid for negative, non-integer or absurd (> MAX_TOKENS) counts. Usage in the Anthropic
    convention (cache reads/writes not included in input) and reasoning reported outside output (Gemini)
    are recognised when the parts exceed the whole, and converted (noted in ``marker``).
    """
    fast = _plain_counts(usage)
    if fast is not None:
        return fast
    notes = marker if marker is not None else {}
    input_tokens = _count("input_tokens", usage.input_tokens)
    output_tokens = _count("output_tokens", usage.output_tokens)
    total = _count("total_tokens", usage.total_tokens)
    cached = _count("cached_input_tokens", usage.cached_input_tokens) or 0
    reasoning = _count("reasoning_tokens", usage.reasoning_tokens) or 0
    written = _count("cache_write_input_tokens", usage.cache_write_input_tokens) or 0
    audio = _count("audio_input_tokens", usage.audio_input_tokens) or 0
    audio_out = _count("audio_output_tokens", usage.audio_output_tokens) or 0
    if input_tokens is None and embedding and total is not None:
        input_tokens = total
    if input_tokens is None and output_tokens is None:
        return None
    missing = [
        name
        for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens))
        if value is None
    ]
    if missing and not (embedding and missing == ["output_tokens"]):
        notes["partial_usage"] = missing
    input_count, output_count = input_tokens or 0, output_tokens or 0
    if cached + written > input_count:
        input_count += cached + written
        notes["input_excluded_cache"] = True
    if reasoning > output_count:
        output_count += reasoning
        notes["output_excluded_reasoning"] = True
    if audio > input_count - cached - written:
        raise _Invalid("audio_input_tokens exceed the uncached input tokens")
    if audio_out > output_count - reasoning:
        raise _Invalid("audio_output_tokens exceed the non-reasoning output tokens")
    if input_count > MAX_TOKENS or output_count > MAX_TOKENS:
        raise _Invalid(f"token count above {MAX_TOKENS}")
    return TokenCounts(input_count, output_count, cached, written, reasoning, audio, audio_out)


def _plain_counts(usage: Usage) -> TokenCounts | None:
    """The common case checked cheaply: whole, in-range counts in our convention; None otherwise."""
    given, produced = usage.input_tokens, usage.output_tokens
    if type(given) is not int or type(produced) is not int:
        return None
    if usage.cache_write_input_tokens or usage.audio_input_tokens or usage.audio_output_tokens:
        return None
    cached, reasoning, total = usage.cached_input_tokens, usage.reasoning_tokens, usage.total_tokens
    if not (0 <= given <= MAX_TOKENS and 0 <= produced <= MAX_TOKENS):
        return None
    if cached is not None and not (type(cached) is int and 0 <= cached <= given):
        return None
    if reasoning is not None and not (type(reasoning) is int and 0 <= reasoning <= produced):
        return None
    if total is not None and not (type(total) is int and 0 <= total <= MAX_TOKENS):
        return None
    return TokenCounts(given, produced, cached or 0, 0, reasoning or 0, 0)


def _count(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is int and 0 <= value <= MAX_TOKENS:  # the common case, checked cheaply
        return value
    return _checked_count(name, value)


def _checked_count(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid(f"{name} is not a number")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise _Invalid(f"{name} is not a whole number")
    if value < 0:
        raise _Invalid(f"{name} is negative")
    if value > MAX_TOKENS:
        raise _Invalid(f"{name} is above {MAX_TOKENS}")
    return value


def _estimated_counts(obs: Observation, embedding: bool, marker: dict[str, Any]) -> TokenCounts | None:
    """Token counts estimated from the text; also written into ``obs.usage`` (marked as estimated)."""
    prompt = estimate_tokens(obs.input)
    completion = None if embedding else estimate_tokens(obs.output)
    if prompt is None and completion is None:
        return None
    input_tokens = prompt.tokens if prompt else 0
    output_tokens = completion.tokens if completion else 0
    method = (prompt or completion).method  # type: ignore[union-attr]
    obs.usage.input_tokens, obs.usage.output_tokens = input_tokens, output_tokens
    if obs.usage.total_tokens is None:
        obs.usage.total_tokens = input_tokens + output_tokens
    marker.update(
        status="estimated",
        usage_estimate={"method": method, "input_tokens": input_tokens, "output_tokens": output_tokens},
    )
    return TokenCounts(min(input_tokens, MAX_TOKENS), min(output_tokens, MAX_TOKENS))


def _unit_charge(
    obs: Observation, entry: PriceEntry, period: PricePeriod, marker: dict[str, Any]
) -> Charge | None:
    if entry.unit is Unit.REQUEST:
        return charge_units(period, entry.unit, Decimal(1))
    key, per_unit = _UNIT_QUANTITY_KEYS[entry.unit]
    raw = obs.metadata.get("usage_units") if isinstance(obs.metadata, dict) else None
    amount = raw.get(key) if isinstance(raw, dict) else None
    if amount is None and entry.unit is Unit.MILLION_CHARACTERS and isinstance(obs.input, str):
        amount = len(obs.input)
    if amount is None:
        marker.update(status="unpriced", reason="no_unit_quantity", expected=f"metadata.usage_units.{key}")
        return None
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 <= amount <= MAX_TOKENS:
        raise _Invalid(f"usage_units.{key} must be a number between 0 and {MAX_TOKENS}")
    quantity = Decimal(str(amount)) / per_unit
    marker["units"] = {key: amount}
    return charge_units(period, entry.unit, quantity)


def _match_marker(match: ModelMatch, period: PricePeriod, before_first: bool) -> dict[str, Any]:
    marker: dict[str, Any] = {"status": "priced", "model": match.entry.key, "effective": period.effective}
    if before_first:
        marker["before_first_price"] = True
    if match.layer != "builtin":
        marker["catalogue"] = match.layer
    return marker


def _mark(
    obs: Observation, marker: dict[str, Any], charge: Charge | None, client_total: Decimal | None
) -> None:
    if client_total is not None:
        marker["reported_by"] = "client"
        marker["client_total"] = str(client_total)
        if charge is not None:
            marker["computed_total"] = str(charge.total)
            marker["mismatch"] = _mismatch(client_total, charge.total)
    elif charge is not None:
        obs.cost.input, obs.cost.output, obs.cost.total = charge.input, charge.output, charge.total
    obs.metadata[COST_METADATA_KEY] = marker


def _mismatch(client: Any, computed: Decimal) -> bool:
    try:
        difference = abs(Decimal(client) - computed)
        return bool(difference > max(MISMATCH_ABSOLUTE, computed * MISMATCH_RELATIVE))
    except (InvalidOperation, TypeError, ValueError):
        return True


def _log_failure(obs: Observation) -> None:
    now = time.monotonic()
    if now - _last_failure_log[0] >= 60.0:
        _last_failure_log[0] = now
        logger.exception(
            "could not price observation %s (cost left unset; logged at most once a minute)", obs.span_id
        )
    try:
        if isinstance(obs.metadata, dict):
            obs.metadata[COST_METADATA_KEY] = {"status": "error"}
    except Exception:  # metadata itself is broken: nothing more can be recorded
        logger.debug("could not mark observation %s", obs.span_id)
