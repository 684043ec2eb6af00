"""Chat messages from each convention's shape into one: ``{"role", "content", ...}``.

The normal form follows the OpenAI chat shape, which most UIs and evaluators read:
``{"role": str, "content": str | list | None}`` plus, when present, ``"tool_calls"`` as
``[{"id", "type": "function", "function": {"name", "arguments"}}]``, ``"tool_call_id"``,
``"name"`` and ``"finish_reason"``. Keys a convention adds beyond these are kept as they are.
"""

from __future__ import annotations

from typing import Any

_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """One tool call in the normal form; absent parts are left out."""
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if arguments is not None:
        function["arguments"] = arguments
    call: dict[str, Any] = {"type": "function", "function": function}
    if call_id is not None:
        call["id"] = call_id
    return call


def from_genai(messages: Any, default_role: str) -> list[dict[str, Any]] | None:
    """GenAI ``gen_ai.input.messages``/``gen_ai.output.messages``: ``[{"role", "parts": [...]}]``.

    Returns None when ``messages`` is not a list of dicts (the caller keeps the raw value).
    """
    if not isinstance(messages, list):
        return None
    result = []
    for message in messages:
        if not isinstance(message, dict):
            return None
        result.append(_from_genai_message(message, default_role))
    return result


def _from_genai_message(message: dict[str, Any], default_role: str) -> dict[str, Any]:
    parts = message.get("parts")
    normal: dict[str, Any] = {"role": message.get("role", default_role)}
    if not isinstance(parts, list):
        normal["content"] = message.get("content")
        _copy_extra(message, normal, ("role", "parts", "content"))
        return normal
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    others = False
    for part in parts:
        kind = part.get("type") if isinstance(part, dict) else None
        content = part.get("content") if kind in _TEXT_PART_TYPES else None
        if isinstance(content, str):
            texts.append(content)
        elif kind == "tool_call":
            calls.append(tool_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            normal["tool_call_id"] = part.get("id")
            response = part.get("response")
            texts.append(response if isinstance(response, str) else "")
            others = others or not isinstance(response, str)
        else:
            others = True
    normal["content"] = "\n".join(texts) if texts else None
    if calls:
        normal["tool_calls"] = calls
    if others:
        normal["parts"] = parts
    if len(message) > 1 + ("role" in message):  # keys beyond "role" and "parts"
        _copy_extra(message, normal, ("role", "parts"))
    return normal


def _copy_extra(message: dict[str, Any], normal: dict[str, Any], known: tuple[str, ...]) -> None:
    for key, value in message.items():
        if key not in known:
            normal[key] = value


def system_instructions(value: Any) -> dict[str, Any] | None:
    """``gen_ai.system_instructions`` (a list of parts, or text) as one system message."""
    if isinstance(value, str):
        return {"role": "system", "content": value}
    if isinstance(value, list):
        texts = [p["content"] for p in value if isinstance(p, dict) and isinstance(p.get("content"), str)]
        if len(texts) == len(value):
            return {"role": "system", "content": "\n".join(texts)}
        return {"role": "system", "content": None, "parts": value}
    return None


def from_openinference(messages: Any) -> list[dict[str, Any]] | None:
    """OpenInference ``llm.*_messages`` after unflattening: ``[{"message": {...}}]``."""
    if not isinstance(messages, list):
        return None
    result = []
    for item in messages:
        message = item.get("message") if isinstance(item, dict) else None
        if not isinstance(message, dict):
            return None
        result.append(_from_openinference_message(message))
    return result


def from_openinference_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Like :func:`from_openinference`, for the records of :func:`nested.indexed_records`."""
    return [_from_openinference_message(message) for message in records]


def _from_openinference_message(message: dict[str, Any]) -> dict[str, Any]:
    normal: dict[str, Any] = {"role": message.get("role"), "content": message.get("content")}
    if _only_role_and_content(message):
        return normal
    for key, value in message.items():
        if key == "tool_calls" and isinstance(value, list):
            normal["tool_calls"] = [_openinference_tool_call(call) for call in value]
        elif key == "contents" and isinstance(value, list) and normal["content"] is None:
            normal["content"] = [_openinference_content(part) for part in value]
        elif key not in ("role", "content"):
            normal[key] = value
    return normal


def _only_role_and_content(message: dict[str, Any]) -> bool:
    return len(message) == ("role" in message) + ("content" in message)


def _openinference_tool_call(item: Any) -> Any:
    call = item.get("tool_call") if isinstance(item, dict) else None
    if not isinstance(call, dict):
        return item
    function = call.get("function")
    if not isinstance(function, dict):
        function = {}
    return tool_call(call.get("id"), function.get("name"), function.get("arguments"))


def _openinference_content(item: Any) -> Any:
    content = item.get("message_content") if isinstance(item, dict) else None
    return content if isinstance(content, dict) else item


def from_indexed(messages: Any) -> list[dict[str, Any]] | None:
    """Traceloop ``gen_ai.prompt.N.*``/``gen_ai.completion.N.*`` after unflattening."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return None
    result = []
    for message in messages:
        normal: dict[str, Any] = {"role": message.get("role"), "content": message.get("content")}
        if not _only_role_and_content(message):
            for key, value in message.items():
                if key == "tool_calls" and isinstance(value, list):
                    normal["tool_calls"] = [_indexed_tool_call(call) for call in value]
                elif key not in ("role", "content"):
                    normal[key] = value
        result.append(normal)
    return result


def _indexed_tool_call(call: Any) -> Any:
    if not isinstance(call, dict):
        return call
    return tool_call(call.get("id"), call.get("name"), call.get("arguments"))
