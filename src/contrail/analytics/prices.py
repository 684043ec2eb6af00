"""Price entries: what one model costs, per period of validity, in USD per million tokens (or per unit)."""

from __future__ import annotations

import bisect
import dataclasses
import enum
from decimal import Decimal

PER_MILLION = 1_000_000


class Unit(str, enum.Enum):
    """What a price is counted in. Token prices are per million tokens; the others per one unit."""

    TOKEN = "token"  # noqa: S105 - a unit name, not a secret
    REQUEST = "request"
    IMAGE = "image"
    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    MILLION_CHARACTERS = "million_characters"


class Mode(str, enum.Enum):
    CHAT = "chat"
    COMPLETION = "completion"
    EMBEDDING = "embedding"
    TRANSCRIPTION = "transcription"
    SPEECH = "speech"
    IMAGE = "image"
    RERANK = "rerank"


@dataclasses.dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens; ``None`` for cached, cache write, reasoning, audio: as input/output."""

    input: Decimal | None = None
    output: Decimal | None = None
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    reasoning: Decimal | None = None
    audio_input: Decimal | None = None
    audio_output: Decimal | None = None

    def merged_over(self, base: Rates) -> Rates:
        """These rates, with every field left ``None`` taken from ``base``."""
        values = {
            field.name: getattr(self, field.name)
            if getattr(self, field.name) is not None
            else getattr(base, field.name)
            for field in dataclasses.fields(Rates)
        }
        return Rates(**values)


RATE_FIELDS: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(Rates))


@dataclasses.dataclass(frozen=True, slots=True)
class Tier:
    """Long-context pricing: when the prompt has more than ``above`` tokens, every token of the request
    (output included) is priced at ``rates`` (already merged over the base rates)."""

    above: int
    rates: Rates


@dataclasses.dataclass(frozen=True, slots=True)
class PricePeriod:
    """Prices valid from ``effective`` (UTC) until the next period of the same entry."""

    effective: str
    effective_us: int
    rates: Rates
    tiers: tuple[Tier, ...] = ()
    fine_tuned: Rates | None = None
    per_request: Decimal | None = None
    per_unit: Decimal | None = None

    def rates_for(self, prompt_tokens: int) -> tuple[Rates, Tier | None]:
        """The rates for a request whose prompt (input incl. cached) has ``prompt_tokens`` tokens."""
        chosen: Tier | None = None
        for tier in self.tiers:
            if prompt_tokens > tier.above:
                chosen = tier
        return (chosen.rates if chosen else self.rates), chosen


@dataclasses.dataclass(frozen=True, slots=True)
class PriceEntry:
    """One model of one provider, with its aliases and its price history (sorted by effective date)."""

    provider: str
    model: str
    periods: tuple[PricePeriod, ...]
    aliases: tuple[str, ...] = ()
    mode: Mode = Mode.CHAT
    unit: Unit = Unit.TOKEN
    source: str | None = None
    note: str | None = None
    origin: str = "builtin"
    _starts: tuple[int, ...] = dataclasses.field(default=(), repr=False, compare=False)
    key: str = dataclasses.field(default="", init=False, compare=False)  # "provider/model"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(period.effective_us for period in self.periods))
        object.__setattr__(self, "key", f"{self.provider}/{self.model}")

    def period_at(self, at_us: int) -> tuple[PricePeriod, bool]:
        """The period valid at ``at_us``; the flag is True when ``at_us`` predates every known period
        (the earliest known price is used then)."""
        index = bisect.bisect_right(self._starts, at_us) - 1
        if index < 0:
            return self.periods[0], True
        return self.periods[index], False

    def current(self) -> PricePeriod:
        return self.periods[-1]
