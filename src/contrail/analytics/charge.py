"""The arithmetic of a price: token counts (or a unit quantity) times a price period, in exact Decimals."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from contrail.analytics.prices import PricePeriod, Tier, Unit

ZERO = Decimal(0)
# Units whose cost is the input side of a call (audio in, text in); images are output.
_INPUT_UNITS = frozenset({Unit.SECOND, Unit.MINUTE, Unit.HOUR, Unit.MILLION_CHARACTERS})


# Not frozen: frozen dataclasses pay object.__setattr__ per field, and these are built once per call.
@dataclasses.dataclass(slots=True)
class TokenCounts:
    """Validated, non-negative token counts in Contrail's convention (the OpenAI one):

    ``input`` includes cached reads, cache writes and audio input; ``output`` includes reasoning and
    audio output.
    """

    input: int = 0
    output: int = 0
    cached_input: int = 0
    cache_write: int = 0
    reasoning: int = 0
    audio_input: int = 0
    audio_output: int = 0


@dataclasses.dataclass(slots=True)
class Charge:
    """What one call cost in USD; ``total`` = ``input`` + ``output`` + ``request``."""

    input: Decimal
    output: Decimal
    request: Decimal
    total: Decimal
    tier: Tier | None = None
    fine_tune_rates: bool = False


def charge_tokens(period: PricePeriod, counts: TokenCounts, *, fine_tune: bool = False) -> Charge:
    """Price ``counts`` at ``period``: long-context tier chosen by the prompt size (``counts.input``);
    fine-tune rates when ``fine_tune`` and the period lists them, else the base rates."""
    rates, tier = period.rates_for(counts.input) if period.tiers else (period.rates, None)
    use_fine_tune = fine_tune and period.fine_tuned is not None
    if use_fine_tune and period.fine_tuned is not None:
        rates, tier = period.fine_tuned, None
    input_rate = rates.input if rates.input is not None else ZERO
    output_rate = rates.output if rates.output is not None else ZERO
    # Terms with no tokens are skipped: Decimal products are the bulk of the cost of pricing a call.
    cached, written, audio, reasoning = (
        counts.cached_input,
        counts.cache_write,
        counts.audio_input,
        counts.reasoning,
    )
    input_micro = (counts.input - cached - written - audio) * input_rate
    if cached:
        input_micro += cached * _or(rates.cached_input, input_rate)
    if written:
        input_micro += written * _or(rates.cache_write, input_rate)
    if audio:
        input_micro += audio * _or(rates.audio_input, input_rate)
    audio_out = counts.audio_output
    output_micro = (counts.output - reasoning - audio_out) * output_rate
    if reasoning:
        output_micro += reasoning * _or(rates.reasoning, output_rate)
    if audio_out:
        output_micro += audio_out * _or(rates.audio_output, output_rate)
    # Prices are per million tokens: scaleb(-6) divides by 10**6 exactly.
    return _charge(input_micro.scaleb(-6), output_micro.scaleb(-6), period, tier, use_fine_tune)


def charge_units(period: PricePeriod, unit: Unit, quantity: Decimal) -> Charge:
    """Price ``quantity`` units (minutes, images, million characters...; 1 for a request)."""
    amount = quantity * (period.per_unit if period.per_unit is not None else ZERO)
    if unit is Unit.REQUEST:
        return _charge(ZERO, ZERO, period, None, False, extra_request=amount)
    if unit in _INPUT_UNITS:
        return _charge(amount, ZERO, period, None, False)
    return _charge(ZERO, amount, period, None, False)


def _charge(
    input_cost: Decimal,
    output_cost: Decimal,
    period: PricePeriod,
    tier: Tier | None,
    fine_tune: bool,
    extra_request: Decimal = ZERO,
) -> Charge:
    request = extra_request
    if period.per_request is not None:
        request += period.per_request
    total = input_cost + output_cost + request if request else input_cost + output_cost
    return Charge(input_cost, output_cost, request, total, tier, fine_tune)


def _or(value: Decimal | None, default: Decimal) -> Decimal:
    return value if value is not None else default
