"""Short plain-text renderings of inputs and outputs: list-page previews and full-text documents."""

from __future__ import annotations

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
    parts: list[str] = []
    if isinstance(content, (dict, list)):
        _collect_strings(content, parts, 0)
    return " ".join(parts)


def search_text(*values: Any) -> str:
    """All strings inside the given JSON values, joined and bounded, for the full-text index."""
    parts: list[str] = []
    for value in values:
        if isinstance(value, str):
            parts.append(value)
        elif value is not None:
            _collect_strings(value, parts, 0)
    return " ".join(parts)[:SEARCH_CHARS]


def _collect_strings(value: Any, parts: list[str], depth: int) -> None:
    # A plain recursive walk: generators cost more than the strings they yield on the ingest path.
    if depth > 32:
        return
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, (dict, list)):
            _collect_strings(item, parts, depth + 1)
