"""A session as one chat transcript: each trace is a turn (what was asked, what was answered).

Chat inputs usually repeat the whole history, so each turn after the first shows only the messages
that follow the last assistant message of its input: the new user (or tool) messages.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from contrail.server.ui.content import Message, Shown, as_messages, message, pretty, show
from contrail.server.ui.markdown import render_markdown


@dataclasses.dataclass(frozen=True, slots=True)
class Turn:
    trace: dict[str, Any]
    asked: list[Message]
    answered: list[Message]
    other: Shown | None  # an output that is not text or chat, shown as JSON


def turns(traces: list[dict[str, Any]], documents: dict[str, tuple[Any, Any]]) -> list[Turn]:
    """One Turn per trace, in order; ``documents`` maps trace_id to its root (input, output)."""
    result = []
    for index, trace in enumerate(traces):
        given, produced = documents.get(trace["trace_id"], (None, None))
        if given is None and produced is None:
            given, produced = trace["input_preview"], trace["output_preview"]
        answered, other = _answered(produced)
        result.append(Turn(trace, _asked(given, first=index == 0), answered, other))
    return result


def _asked(value: Any, *, first: bool) -> list[Message]:
    if value is None:
        return []
    chat = as_messages(value)
    if chat is None:
        text = value if isinstance(value, str) else pretty(value)
        return [Message("user", render_markdown(text), [])]
    if not first:
        last_reply = max((i for i, m in enumerate(chat) if m.get("role") == "assistant"), default=-1)
        chat = chat[last_reply + 1 :] or chat[-1:]
    return [message(m) for m in chat]


def _answered(value: Any) -> tuple[list[Message], Shown | None]:
    if value is None:
        return [], None
    chat = as_messages(value)
    if chat is not None:
        return [message(m) for m in chat], None
    if isinstance(value, str):
        return [Message("assistant", render_markdown(value), [])], None
    return [], show(value)
