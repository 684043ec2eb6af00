"""Price files: the JSON format of the built-in catalogue and of user override files, parsed strictly.

A document is ``{"schema_version": 1, "provider": ..., "source": ..., "entries": [...]}``; see
docs/pricing.md for every field. Parsing is all-or-nothing: every problem in the document is
collected and raised together as one :class:`PriceFileError`, and no entry is returned unless the whole
document is valid, so an override file is never half-applied.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from contrail.analytics.prices import RATE_FIELDS, Mode, PriceEntry, PricePeriod, Rates, Tier, Unit

SCHEMA_VERSION = 1
MAX_ENTRIES = 10_000
MAX_FILE_BYTES = 10 * 1024 * 1024
# Sanity bound for a price per million tokens (or per unit): well above any real price, far below typos
# such as a price per token pasted in the wrong unit multiplied out.
MAX_PRICE = Decimal(1_000_000)
_PROVIDER_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_DOC_KEYS = frozenset({"schema_version", "provider", "source", "note", "entries"})
_ENTRY_KEYS = frozenset({"model", "provider", "aliases", "mode", "unit", "source", "note", "prices"})
_PERIOD_KEYS = frozenset({"effective", "tiers", "fine_tuned", "per_request", "per_unit", *RATE_FIELDS})
_TIER_KEYS = frozenset({"above", *RATE_FIELDS})


class PriceFileError(ValueError):
    """A price document is invalid; ``problems`` lists every problem as ``"path: message"``."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{origin} is not a valid price file ({len(problems)} problem(s)):\n{listed}")


def normalize_name(name: str) -> str:
    """Lower case, trimmed, inner whitespace runs turned into '-' (the form every key is stored in)."""
    return "-".join(name.strip().lower().split())


def load_price_file(path: str | Path) -> list[PriceEntry]:
    """Read and validate a JSON price file. Raises PriceFileError (with every problem) on bad input."""
    origin = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PriceFileError(origin, [f"cannot read the file ({exc.strerror or exc})"]) from exc
    if len(raw) > MAX_FILE_BYTES:
        raise PriceFileError(origin, [f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"])
    return parse_price_json(raw, origin=origin)


def parse_price_json(raw: bytes | str, *, origin: str) -> list[PriceEntry]:
    """Parse JSON text (numbers read as exact Decimals) and validate it as a price document."""
    try:
        data = json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PriceFileError(origin, [f"not valid JSON ({exc})"]) from exc
    return parse_price_document(data, origin=origin)


def parse_price_document(data: Any, *, origin: str) -> list[PriceEntry]:
    """Validate a decoded price document; returns its entries or raises PriceFileError."""
    problems: list[str] = []
    entries = _Parser(problems, origin).document(data)
    if problems:
        raise PriceFileError(origin, problems)
    return entries


class _Parser:
    def __init__(self, problems: list[str], origin: str) -> None:
        self.problems = problems
        self.origin = origin

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def document(self, data: Any) -> list[PriceEntry]:
        if not isinstance(data, dict):
            self.fail("(top level)", 'must be an object such as {"schema_version": 1, "entries": [...]}')
            return []
        self._unknown_keys("(top level)", data, _DOC_KEYS)
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION or isinstance(version, bool):
            self.fail("schema_version", f"must be {SCHEMA_VERSION}, got {version!r}")
        provider = self._provider("provider", data["provider"]) if "provider" in data else None
        source = self._text("source", data.get("source"))
        raw_entries = data.get("entries")
        if not isinstance(raw_entries, list) or not raw_entries:
            self.fail("entries", "must be a non-empty list of model entries")
            return []
        if len(raw_entries) > MAX_ENTRIES:
            self.fail("entries", f"at most {MAX_ENTRIES} entries per file, got {len(raw_entries)}")
            return []
        entries = [self.entry(f"entries[{i}]", raw, provider, source) for i, raw in enumerate(raw_entries)]
        found = [entry for entry in entries if entry is not None]
        self._duplicates(found)
        return found

    def entry(self, path: str, raw: Any, provider: str | None, source: str | None) -> PriceEntry | None:
        if not isinstance(raw, dict):
            self.fail(path, "must be an object with at least 'model' and 'prices'")
            return None
        before = len(self.problems)
        self._unknown_keys(path, raw, _ENTRY_KEYS)
        model = self._name(f"{path}.model", raw.get("model"))
        if "provider" in raw:
            provider = self._provider(f"{path}.provider", raw["provider"])
        elif provider is None:
            self.fail(f"{path}.provider", "missing (set it on the entry or at the top level)")
        aliases = self._aliases(f"{path}.aliases", raw.get("aliases", []))
        mode = self._enum(f"{path}.mode", raw.get("mode", Mode.CHAT.value), Mode)
        unit = self._enum(f"{path}.unit", raw.get("unit", Unit.TOKEN.value), Unit)
        periods = self._periods(f"{path}.prices", raw.get("prices"), mode, unit)
        note = self._text(f"{path}.note", raw.get("note"))
        entry_source = self._text(f"{path}.source", raw.get("source")) or source
        if len(self.problems) > before or model is None or provider is None or mode is None or unit is None:
            return None
        return PriceEntry(
            provider=provider,
            model=model,
            periods=tuple(periods),
            aliases=tuple(aliases),
            mode=mode,
            unit=unit,
            source=entry_source,
            note=note,
            origin=self.origin,
        )

    def _periods(self, path: str, raw: Any, mode: Mode | None, unit: Unit | None) -> list[PricePeriod]:
        if not isinstance(raw, list) or not raw:
            self.fail(path, 'must be a non-empty list of periods like [{"effective": "2025-01-01", ...}]')
            return []
        periods = [self.period(f"{path}[{i}]", item, mode, unit) for i, item in enumerate(raw)]
        found = sorted((p for p in periods if p is not None), key=lambda p: p.effective_us)
        starts = [p.effective_us for p in found]
        if len(set(starts)) != len(starts):
            self.fail(path, "two periods have the same effective date")
        return found

    def period(self, path: str, raw: Any, mode: Mode | None, unit: Unit | None) -> PricePeriod | None:
        if not isinstance(raw, dict):
            self.fail(path, "must be an object")
            return None
        self._unknown_keys(path, raw, _PERIOD_KEYS)
        effective = self._effective(f"{path}.effective", raw.get("effective"))
        rates = self._rates(path, raw)
        per_request = self._money(f"{path}.per_request", raw.get("per_request"))
        per_unit = self._money(f"{path}.per_unit", raw.get("per_unit"))
        self._required_prices(path, raw, mode, unit)
        tiers = self._tiers(f"{path}.tiers", raw.get("tiers", []), rates)
        fine_tuned = self._fine_tuned(f"{path}.fine_tuned", raw.get("fine_tuned"), rates)
        if effective is None:
            return None
        return PricePeriod(effective[0], effective[1], rates, tiers, fine_tuned, per_request, per_unit)

    def _required_prices(self, path: str, raw: dict[str, Any], mode: Mode | None, unit: Unit | None) -> None:
        """Report prices a period of this unit and mode cannot do without (absent, not merely invalid)."""
        if unit is Unit.TOKEN:
            if "input" not in raw:
                self.fail(f"{path}.input", "missing (USD per million input tokens)")
            if "output" not in raw and mode not in (Mode.EMBEDDING, Mode.RERANK):
                self.fail(f"{path}.output", "missing (USD per million output tokens)")
        elif unit is not None and "per_unit" not in raw:
            self.fail(f"{path}.per_unit", f"missing (USD per {unit.value})")

    def _tiers(self, path: str, raw: Any, base: Rates) -> tuple[Tier, ...]:
        if not isinstance(raw, list):
            self.fail(path, 'must be a list like [{"above": 200000, "input": "6", "output": "22.5"}]')
            return ()
        tiers: list[Tier] = []
        for i, item in enumerate(raw):
            item_path = f"{path}[{i}]"
            if not isinstance(item, dict):
                self.fail(item_path, "must be an object")
                continue
            self._unknown_keys(item_path, item, _TIER_KEYS)
            above = item.get("above")
            if not isinstance(above, int) or isinstance(above, bool) or above <= 0:
                self.fail(f"{item_path}.above", f"must be a positive whole number of tokens, got {above!r}")
                continue
            if tiers and above <= tiers[-1].above:
                self.fail(f"{item_path}.above", "tiers must be in increasing order of 'above'")
            tiers.append(Tier(above, self._rates(item_path, item).merged_over(base)))
        return tuple(tiers)

    def _fine_tuned(self, path: str, raw: Any, base: Rates) -> Rates | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.fail(path, "must be an object of rates")
            return None
        self._unknown_keys(path, raw, frozenset(RATE_FIELDS))
        rates = self._rates(path, raw)
        if rates.input is None or rates.output is None:
            self.fail(path, "needs 'input' and 'output'")
        # A fine-tune without its own cached price pays its own input price for cached tokens.
        return rates

    def _rates(self, path: str, raw: dict[str, Any]) -> Rates:
        return Rates(**{name: self._money(f"{path}.{name}", raw.get(name)) for name in RATE_FIELDS})

    def _money(self, path: str, raw: Any) -> Decimal | None:
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
            self.fail(path, f'must be a decimal number or string such as "2.50", got {raw!r}')
            return None
        try:
            value = Decimal(raw.strip() if isinstance(raw, str) else raw)
        except InvalidOperation:
            self.fail(path, f"not a number: {raw!r}")
            return None
        if not value.is_finite() or value < 0 or value > MAX_PRICE:
            self.fail(path, f"must be between 0 and {MAX_PRICE} USD, got {raw!r}")
            return None
        return value

    def _effective(self, path: str, raw: Any) -> tuple[str, int] | None:
        if not isinstance(raw, str):
            self.fail(path, 'missing or not a string; use a date like "2025-01-31" (UTC)')
            return None
        try:
            if len(raw) == 10:
                moment = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(), dt.timezone.utc)
            else:
                moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.timezone.utc)
        except ValueError:
            self.fail(path, f'not a date: {raw!r}; use "YYYY-MM-DD" or an RFC 3339 time')
            return None
        delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return raw, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds

    def _name(self, path: str, raw: Any) -> str | None:
        if not isinstance(raw, str) or not raw.strip() or len(raw) > 200:
            self.fail(path, f"must be a non-empty model name of at most 200 characters, got {raw!r}")
            return None
        return normalize_name(raw)

    def _aliases(self, path: str, raw: Any) -> list[str]:
        if not isinstance(raw, list):
            self.fail(path, "must be a list of model names")
            return []
        names = [self._name(f"{path}[{i}]", item) for i, item in enumerate(raw)]
        return [name for name in names if name is not None]

    def _provider(self, path: str, raw: Any) -> str | None:
        if not isinstance(raw, str) or not _PROVIDER_RE.match(raw.strip().lower()):
            self.fail(path, f"must be a short lower-case name like 'openai' or 'self-hosted', got {raw!r}")
            return None
        return raw.strip().lower()

    def _text(self, path: str, raw: Any) -> str | None:
        if raw is None:
            return None
        if not isinstance(raw, str) or len(raw) > 2000:
            self.fail(path, "must be a string of at most 2000 characters")
            return None
        return raw

    def _enum(self, path: str, raw: Any, kind: Callable[[str], Any]) -> Any:
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)  # type: ignore[attr-defined]
            self.fail(path, f"must be one of {allowed}; got {raw!r}")
            return None

    def _unknown_keys(self, path: str, raw: dict[str, Any], allowed: frozenset[str]) -> None:
        for key in raw:
            if key not in allowed:
                self.fail(f"{path}.{key}", f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def _duplicates(self, entries: list[PriceEntry]) -> None:
        seen: dict[tuple[str, str], PriceEntry] = {}
        for entry in entries:
            for name in dict.fromkeys((entry.model, *entry.aliases)):
                owner = seen.setdefault((entry.provider, name), entry)
                if owner is not entry:
                    where = f"by {owner.model} and {entry.model}"
                    self.fail("entries", f"{entry.provider}/{name} is defined twice ({where})")
