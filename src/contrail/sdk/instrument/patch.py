"""Replace methods of a client library's classes with traced versions, reversibly and only once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_ORIGINAL = "__contrail_original__"
_patched: list[tuple[type, str, Any]] = []


def wrap_method(cls: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> bool:
    """Set ``cls.name = make(original)`` unless already done; returns True when patched now."""
    original = cls.__dict__.get(name)
    if original is None or getattr(original, _ORIGINAL, None) is not None:
        return False
    traced = functools.wraps(original)(make(original))
    setattr(traced, _ORIGINAL, original)
    setattr(cls, name, traced)
    _patched.append((cls, name, original))
    return True


def unwrap_all(module_prefix: str) -> int:
    """Restore every method patched on classes of ``module_prefix`` (tests); returns how many."""
    keep, restored = [], 0
    for cls, name, original in _patched:
        if cls.__module__.startswith(module_prefix):
            setattr(cls, name, original)
            restored += 1
        else:
            keep.append((cls, name, original))
    _patched[:] = keep
    return restored
