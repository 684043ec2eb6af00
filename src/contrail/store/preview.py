"""Short plain-text renderings of inputs and outputs: list-page previews and full-text documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

PREVIEW_CHARS = 300
SEARCH_CHARS = 32_768


def preview_text(value: Any) -> str | None:
    """A one-line preview: the last user-ish message of a chat, else the text, else compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        text = _message_text(value[-1])
    elif isinstance(value, dict) and isinstance(value.get("messages"), list):
        return preview_text(value["messages"])
    else:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return " ".join(text.split())[:PREVIEW_CHARS]


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(_strings(content))


def search_text(*values: Any) -> str:
    """All strings inside the given JSON values, joined and bounded, for the full-text index."""
    if all(isinstance(v, str) or v is None for v in values):  # the common case, without recursion
        return " ".join(v for v in values if v)[:SEARCH_CHARS]
    parts: list[str] = []
    size = 0
    for value in values:
        for piece in _strings(value):
            parts.append(piece)
            size += len(piece) + 1
            if size >= SEARCH_CHARS:
                return " ".join(parts)[:SEARCH_CHARS]
    return " ".join(parts)


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 32:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth + 1)
