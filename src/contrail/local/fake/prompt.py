"""Reading the prompt text out of the providers' message formats (strings or lists of content parts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

_TEXT_KEYS = ("text", "content", "output", "refusal")


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or the text parts of a list (nested results included).

    Non-text parts (images, audio, files) contribute nothing; tool-call inputs contribute their JSON.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(t for t in (text_of(part) for part in content) if t)
    if isinstance(content, Mapping):
        for key in _TEXT_KEYS:
            if key in content:
                return text_of(content[key])
        for key in ("input", "arguments"):
            if key in content:
                return _json_text(content[key])
    return ""


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def collect(messages: Iterable[Any], user_roles: tuple[str, ...] = ("user",)) -> tuple[list[str], str]:
    """The texts of ``messages`` in order, and the text of the last one whose role is in ``user_roles``."""
    texts: list[str] = []
    last_user = ""
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        text = text_of(message.get("content"))
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping):
                text = "\n".join(t for t in (text, text_of(call.get("function"))) if t)
        if text:
            texts.append(text)
        if message.get("role", "user") in user_roles:
            last_user = text
    return texts, last_user
