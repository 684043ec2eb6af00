"""What the fake model answers: turns a scripted :class:`Behaviour` into a provider-neutral :class:`Reply`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from contrail.local.fake.script import Behaviour, FakeRequest
from contrail.local.fake.tokens import count_tokens, truncate

Finish = Literal["stop", "length", "tool_calls", "refusal"]
#: ``None``: free text; ``{}``: any JSON object (json_object mode); otherwise a JSON schema to satisfy.
JsonMode = Mapping[str, Any] | None


@dataclass(frozen=True)
class ReplyToolCall:
    """A tool call with its arguments already serialised."""

    name: str
    arguments: str
    call_id: str | None


@dataclass(frozen=True)
class Reply:
    """A provider-neutral answer; ``completion_tokens`` counts text, refusal and tool-call tokens."""

    text: str | None
    refusal: str | None
    tool_calls: tuple[ReplyToolCall, ...]
    finish: Finish
    completion_tokens: int


def build_reply(
    request: FakeRequest, behaviour: Behaviour, *, json_mode: JsonMode, max_tokens: int | None
) -> Reply:
    """The answer for ``request``: scripted text, JSON, refusal or tool calls, else an echo.

    ``json_mode`` makes the echo a JSON document (a schema instance when a schema is given);
    ``max_tokens`` truncates text answers and sets the ``length`` finish reason.
    """
    if behaviour.kind == "tool_calls":
        calls = tuple(
            ReplyToolCall(c.name, orjson.dumps(c.arguments).decode(), c.call_id) for c in behaviour.tool_calls
        )
        tokens = sum(count_tokens(c.name) + count_tokens(c.arguments) for c in calls)
        return Reply(None, None, calls, "tool_calls", tokens)
    if behaviour.kind == "refusal":
        refusal = behaviour.text or ""
        return Reply(None, refusal, (), "refusal", count_tokens(refusal))
    text = _answer_text(request, behaviour, json_mode)
    if max_tokens is not None:
        text, cut = truncate(text, max_tokens)
        if cut:
            return Reply(text, None, (), "length", max_tokens)
    return Reply(text, None, (), "stop", count_tokens(text))


def _answer_text(request: FakeRequest, behaviour: Behaviour, json_mode: JsonMode) -> str:
    if behaviour.kind == "json":
        return orjson.dumps(behaviour.json_value).decode()
    if behaviour.kind in ("text", "invalid_json") and behaviour.text is not None:
        return behaviour.text
    if json_mode is None:
        return request.last_user
    if not json_mode:
        return orjson.dumps({"echo": request.last_user}).decode()
    return orjson.dumps(schema_instance(json_mode, request.last_user)).decode()


def schema_instance(
    schema: Mapping[str, Any], text: str, depth: int = 0, root: Mapping[str, Any] | None = None
) -> Any:
    """A deterministic value valid against the common JSON-schema subset (strings get ``text``).

    Handles ``type``, ``properties``, ``items``/``minItems``, ``enum``, ``const``, ``anyOf``/``oneOf``/
    ``allOf`` (first branch) and local ``$ref`` such as ``#/$defs/Item`` (what pydantic emits).
    """
    root = schema if root is None else root
    if depth > 16:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return schema_instance(target, text, depth + 1, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return schema_instance(schema[key][0], text, depth + 1, root)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: Mapping[str, Any] = schema.get("properties", {})
        return {name: schema_instance(sub, text, depth + 1, root) for name, sub in props.items()}
    if kind == "array":
        minimum = int(schema.get("minItems", 0))
        return [schema_instance(schema.get("items", {}), text, depth + 1, root) for _ in range(minimum)]
    return {"string": text, "integer": 0, "number": 0, "boolean": False, "null": None}.get(kind, text)
