"""``{{variable}}`` templates: parse once (cached), render strictly.

The syntax is Langfuse's: ``{{name}}`` or ``{{ name }}`` with a name of ``[A-Za-z_][A-Za-z0-9_]*``.
Unlike Langfuse, braces must balance: an unclosed ``{{``, a stray ``}}`` or a malformed name is an
error naming its position, so a typo never ships as literal text. Values are inserted verbatim: a
value containing ``{{x}}`` is not expanded again (which is also how to put literal braces in a prompt).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CACHE_SIZE = 4096


class TemplateError(ValueError):
    """The template text is malformed; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


class RenderError(ValueError):
    """Compiling failed: variables missing or not expected (``missing``/``unknown`` list them)."""

    def __init__(
        self, missing: Iterable[str] = (), unknown: Iterable[str] = (), message: str | None = None
    ) -> None:
        self.missing = sorted(missing)
        self.unknown = sorted(unknown)
        parts = [message] if message else []
        if self.missing:
            parts.append("missing variables: " + ", ".join(self.missing))
        if self.unknown:
            parts.append(
                "unknown variables: " + ", ".join(self.unknown) + " (pass allow_extra=True to ignore them)"
            )
        super().__init__("; ".join(parts))


@dataclasses.dataclass(frozen=True, slots=True)
class Variable:
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal strings and Variables in order."""

    text: str
    parts: tuple[str | Variable, ...]
    variables: tuple[str, ...]  # distinct names, in order of first use

    def render(self, values: Mapping[str, Any]) -> str:
        """Substitute ``values`` (which must hold every variable; str() of non-strings)."""
        missing = [name for name in self.variables if name not in values]
        if missing:
            raise RenderError(missing=missing)
        return "".join(p if isinstance(p, str) else _text(values[p.name]) for p in self.parts)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def parse(text: str) -> Template:
    """Parse ``text``; raises TemplateError naming the position of the first problem."""
    parts: list[str | Variable] = []
    names: dict[str, None] = {}
    position = 0
    while True:
        opening = text.find("{{", position)
        closing = text.find("}}", position)
        if closing != -1 and (opening == -1 or closing < opening):
            raise TemplateError("'}}' without a matching '{{'", closing)
        if opening == -1:
            break
        end = text.find("}}", opening + 2)
        nested = text.find("{{", opening + 2)
        if end == -1 or (nested != -1 and nested < end):
            raise TemplateError("'{{' is not closed by '}}'", opening)
        name = text[opening + 2 : end].strip()
        if not _NAME.fullmatch(name):
            raise TemplateError(
                f"{name!r} is not a variable name (letters, digits and _, not starting with a digit)", opening
            )
        if opening > position:
            parts.append(text[position:opening])
        parts.append(Variable(name))
        names[name] = None
        position = end + 2
    if position < len(text):
        parts.append(text[position:])
    return Template(text, tuple(parts), tuple(names))
