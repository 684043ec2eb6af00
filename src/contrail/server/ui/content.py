"""How an observation's input or output is shown: a conversation, markdown text, or collapsible JSON.

Everything here is untrusted trace content. Text becomes HTML only through ``render_markdown``
(which escapes); JSON is pretty-printed into plain strings that the templates autoescape.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Literal

import orjson
from markupsafe import Markup

from contrail.server.ui.markdown import render_markdown

MAX_JSON_CHARS = 200_000
_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    call_id: str | None
    arguments: str


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    role: str
    html: Markup | None
    tool_calls: list[ToolCall]
    name: str | None = None
    tool_call_id: str | None = None
    extra: str | None = None  # content parts that are not text, as JSON


@dataclasses.dataclass(frozen=True, slots=True)
class JsonField:
    key: str
    text: str
    short: bool  # a scalar small enough to show inline rather than folded


@dataclasses.dataclass(frozen=True, slots=True)
class Shown:
    """One value prepared for display."""

    kind: Literal["empty", "chat", "text", "json"]
    messages: list[Message] = dataclasses.field(default_factory=list)
    html: Markup | None = None
    fields: list[JsonField] = dataclasses.field(default_factory=list)
    text: str = ""


def show(value: Any) -> Shown:
    """Pick the display for an input or output value."""
    if value is None or value == "" or value == [] or value == {}:
        return Shown("empty")
    chat = as_messages(value)
    if chat is not None:
        return Shown("chat", messages=[message(m) for m in chat])
    if isinstance(value, str):
        return Shown("text", html=render_markdown(value))
    return show_json(value)


def show_json(value: Any) -> Shown:
    """JSON: objects as one foldable entry per key, anything else as one pretty block."""
    if isinstance(value, dict):
        fields = [_field(str(k), v) for k, v in value.items()]
        return Shown("json", fields=fields, text=pretty(value))
    return Shown("json", text=pretty(value))


def as_messages(value: Any) -> list[dict[str, Any]] | None:
    """The chat messages in ``value`` (a list of ``{"role", ...}``, ``{"messages": [...]}`` or one
    message), else None."""
    if isinstance(value, dict):
        if isinstance(value.get("messages"), list):
            return as_messages(value["messages"])
        if isinstance(value.get("role"), str) and ("content" in value or "tool_calls" in value):
            return [value]
        return None
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return value
    return None


def message(raw: dict[str, Any]) -> Message:
    content = raw.get("content")
    text, extra = _content_text(content)
    calls = [_tool_call(c) for c in raw.get("tool_calls") or [] if isinstance(c, dict)]
    if isinstance(content, list):
        calls += [_tool_call(part) for part in content if _is_tool_use(part)]
    if raw.get("parts") is not None and extra is None:
        extra = pretty(raw["parts"])
    return Message(
        role=str(raw.get("role") or "unknown"),
        html=render_markdown(text) if text else None,
        tool_calls=calls,
        name=_str_or_none(raw.get("name")),
        tool_call_id=_str_or_none(raw.get("tool_call_id")),
        extra=extra,
    )


def pretty(value: Any) -> str:
    """Indented JSON, cut (with a marker) beyond MAX_JSON_CHARS."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = orjson.dumps(value, option=_JSON_OPTIONS).decode()
        except (TypeError, orjson.JSONEncodeError):
            text = repr(value)
    if len(text) > MAX_JSON_CHARS:
        return text[:MAX_JSON_CHARS] + f"\n… cut: {len(text) - MAX_JSON_CHARS:,} more characters"
    return text


def _field(key: str, value: Any) -> JsonField:
    if isinstance(value, (dict, list)):
        return JsonField(key, pretty(value), short=False)
    text = pretty(value) if not isinstance(value, str) else value
    return JsonField(key, text, short=len(text) <= 120 and "\n" not in text)


def _content_text(content: Any) -> tuple[str, str | None]:
    """The text of a message's content, and its other parts (images, tool results…) as JSON."""
    if content is None:
        return "", None
    if isinstance(content, str):
        return content, None
    if isinstance(content, list):
        texts: list[str] = []
        others: list[Any] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif not _is_tool_use(part):
                others.append(part)
        return "\n\n".join(texts), pretty(others) if others else None
    return "", pretty(content)


def _is_tool_use(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "tool_use"


def _tool_call(call: dict[str, Any]) -> ToolCall:
    nested = call.get("function")
    function: dict[str, Any] = nested if isinstance(nested, dict) else call
    arguments = function.get("arguments", function.get("input"))
    if isinstance(arguments, str):
        with contextlib.suppress(orjson.JSONDecodeError):
            arguments = orjson.loads(arguments)
    return ToolCall(
        name=str(function.get("name") or "tool"),
        call_id=_str_or_none(call.get("id")),
        arguments=pretty(arguments) if arguments is not None else "",
    )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
