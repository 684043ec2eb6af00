"""A JSON-safe, size-limited snapshot of an arbitrary Python value.

Taken on the caller's thread when a span captures input or output, so later mutation of the caller's
objects cannot change (or crash) what is exported. Anything unserialisable (sockets, locks, custom
objects) becomes its ``repr``; cycles, depth, item counts and string lengths are bounded and cut
places carry a visible marker. Never raises: a failing ``repr`` yields ``<unrepresentable T>``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import itertools
import math
import sys
from typing import Any

TRUNCATED = "…[truncated {n} chars]"
MORE_ITEMS = "…[{n} more items]"
_SCALARS = (int, bool, type(None))
# Types whose values can be exported as they are (short strings are checked separately).
IMMUTABLE = frozenset({int, bool, float, type(None)})


@dataclasses.dataclass(slots=True)
class Limits:
    max_chars: int = 32_000
    max_items: int = 1_000
    max_depth: int = 10


DEFAULT_LIMITS = Limits()


def snapshot(value: Any, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Return a JSON-compatible copy of ``value`` within ``limits``."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= limits.max_chars else truncate(value, limits.max_chars)
    if kind in _SCALARS:
        return value
    return _Walker(limits).walk(value, 0)


def truncate(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` with a marker saying how much was cut (unchanged if short)."""
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + TRUNCATED.format(n=len(text) - max_chars)


class _Walker:
    __slots__ = ("limits", "path")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.path: set[int] = set()

    def walk(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self._text(value)
        if kind in _SCALARS:
            return value
        if kind is float:
            return value if math.isfinite(value) else str(value)
        if depth >= self.limits.max_depth:
            return f"<{kind.__name__} nested too deep>"
        if isinstance(value, (dict, list, tuple, set, frozenset)):
            return self._container(value, depth)
        return self._other(value, depth)

    def _text(self, value: str) -> str:
        return value if len(value) <= self.limits.max_chars else truncate(value, self.limits.max_chars)

    def _container(self, value: Any, depth: int) -> Any:
        marker = id(value)
        if marker in self.path:
            return f"<cycle {type(value).__name__}>"
        self.path.add(marker)
        try:
            if isinstance(value, dict):
                return self._mapping(value, depth)
            return self._sequence(value, depth)
        finally:
            self.path.discard(marker)

    def _mapping(self, value: dict[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        limit = self.limits.max_items
        for key, item in list(itertools.islice(value.items(), limit)):
            out[key if type(key) is str else _key(key)] = self.walk(item, depth + 1)
        if len(value) > limit:
            out["…"] = MORE_ITEMS.format(n=len(value) - limit)
        return out

    def _sequence(self, value: Any, depth: int) -> list[Any]:
        limit = self.limits.max_items
        # islice, not list(value): a huge argument must not be copied whole on the caller's thread
        out = [self.walk(item, depth + 1) for item in list(itertools.islice(value, limit))]
        if len(value) > limit:
            out.append(MORE_ITEMS.format(n=len(value) - limit))
        return out

    def _other(self, value: Any, depth: int) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self._bytes(bytes(value[: self.limits.max_chars * 4]), len(value))
        if isinstance(value, enum.Enum):
            return self.walk(value.value, depth)
        if isinstance(value, (dt.datetime, dt.date, dt.time)):
            return value.isoformat()
        if _is_stringlike(value):
            return str(value)
        if isinstance(value, BaseException):
            return self._text(f"{type(value).__name__}: {value}")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._dataclass(value, depth)
        dump = getattr(value, "model_dump", None)
        if callable(dump) and not isinstance(value, type):
            return self._model(value, dump, depth)
        return self._repr(value)

    def _bytes(self, data: bytes, size: int) -> str:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{size} bytes, not UTF-8>"
        if size > len(data):
            return text + f"…[truncated, {size} bytes in all]"
        return self._text(text)

    def _dataclass(self, value: Any, depth: int) -> Any:
        fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        return self._container(fields, depth)

    def _model(self, value: Any, dump: Any, depth: int) -> Any:
        try:
            data = dump(mode="json")
        except Exception:  # a model that cannot dump itself is shown by repr instead
            return self._repr(value)
        return self.walk(data, depth)

    def _repr(self, value: Any) -> str:
        try:
            return self._text(repr(value))
        except Exception:  # user __repr__ may raise anything; the snapshot must not
            return f"<unrepresentable {type(value).__name__}>"


def _is_stringlike(value: Any) -> bool:
    """Decimal, UUID or path: looked up in sys.modules, as a value of those types implies its module
    was imported, and importing them here would slow down ``import contrail``."""
    for module, name in (("decimal", "Decimal"), ("uuid", "UUID"), ("pathlib", "PurePath")):
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(value, getattr(loaded, name)):
            return True
    return False


def _key(key: Any) -> str:
    if isinstance(key, (str, int, float, bool)) or key is None:
        return str(key)
    try:
        return repr(key)
    except Exception:  # user __repr__ may raise anything
        return f"<{type(key).__name__}>"


def snapshot_fields(fields: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Snapshot each value of a flat name -> value mapping (the fast path for call arguments)."""
    max_chars = limits.max_chars
    walker: _Walker | None = None
    for key, value in fields.items():
        kind = type(value)
        if kind in IMMUTABLE or (kind is str and len(value) <= max_chars):
            continue
        walker = walker or _Walker(limits)
        fields[key] = walker.walk(value, 1)
    return fields
