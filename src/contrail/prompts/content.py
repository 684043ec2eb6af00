"""What a prompt version holds (text or chat messages, config), how it is checked and compiled.

Pure Python (no database, no orjson): the SDK's ``Prompt.compile`` uses it too.

Chat prompts are Langfuse-shaped lists: ``{"role", "content"}`` messages whose content is a template,
and ``{"type": "placeholder", "name"}`` entries that ``compile`` replaces with a list of messages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal, cast

from contrail.prompts.template import _NAME, RenderError, TemplateError, parse

PromptType = Literal["text", "chat"]
PROMPT_TYPES: tuple[PromptType, ...] = ("text", "chat")
MAX_CONTENT_BYTES = 1_000_000  # prompt + config of one version, as compact JSON
Message = dict[str, Any]


class ContentError(ValueError):
    """The prompt or config is malformed; the message names the part."""


class ContentTooLargeError(ContentError):
    """The version is over MAX_CONTENT_BYTES."""


@dataclasses.dataclass(frozen=True, slots=True)
class Content:
    """A checked version body. ``prompt`` is a str (text) or a list of messages (chat)."""

    type: PromptType
    prompt: str | list[Message]
    config: dict[str, Any]
    variables: tuple[str, ...]
    placeholders: tuple[str, ...]

    @property
    def hash(self) -> str:
        """SHA-256 of the normalised content: equal hashes mean pushing again changes nothing."""
        return content_hash(self.type, self.prompt, self.config)


def check_content(type_: str, prompt: Any, config: Any = None) -> Content:
    """Validate and normalise a version body; raises ContentError (or ContentTooLargeError)."""
    if type_ not in PROMPT_TYPES:
        raise ContentError(f"type must be 'text' or 'chat', not {type_!r}")
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise ContentError("config must be a JSON object (model, temperature, tools, ...)")
    size = len(_canonical({"prompt": prompt, "config": config}))
    if size > MAX_CONTENT_BYTES:
        raise ContentTooLargeError(
            f"The prompt and config take {size:,} bytes; a version holds at most {MAX_CONTENT_BYTES:,}."
        )
    if type_ == "text":
        if not isinstance(prompt, str):
            raise ContentError("A text prompt is a string.")
        variables = _variables_of(prompt, "prompt")
        return Content("text", prompt, config, variables, ())
    messages = _check_messages(prompt)
    variables = tuple(
        dict.fromkeys(
            v
            for i, m in enumerate(messages)
            if "content" in m
            for v in _variables_of(m["content"], f"message {i}")
        )
    )
    placeholders = tuple(m["name"] for m in messages if m.get("type") == "placeholder")
    return Content("chat", messages, config, variables, placeholders)


def _variables_of(text: str, where: str) -> tuple[str, ...]:
    try:
        return parse(text).variables
    except TemplateError as exc:
        raise ContentError(f"{where}: {exc}") from exc


def _check_messages(prompt: Any) -> list[Message]:
    if not isinstance(prompt, list) or not prompt:
        raise ContentError("A chat prompt is a non-empty list of {role, content} messages.")
    messages: list[Message] = []
    for index, message in enumerate(prompt):
        if not isinstance(message, dict):
            raise ContentError(f"message {index}: must be an object with role and content")
        if message.get("type") == "placeholder":
            name = message.get("name")
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise ContentError(f"message {index}: a placeholder needs a name like chat_history")
            messages.append({"type": "placeholder", "name": name})
            continue
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role or not isinstance(content, str):
            raise ContentError(f"message {index}: needs a string role and a string content")
        messages.append({"role": role, "content": content})
    return messages


def compile_content(
    content: Content, values: Mapping[str, Any], *, allow_extra: bool = False
) -> str | list[Message]:
    """Fill variables (and, for chat, placeholders) from ``values``.

    Raises RenderError naming missing variables, and unknown ones unless ``allow_extra``.
    """
    expected = set(content.variables) | set(content.placeholders)
    missing = expected - values.keys()
    unknown = set() if allow_extra else values.keys() - expected
    if missing or unknown:
        raise RenderError(missing=missing, unknown=unknown)
    if content.type == "text":
        return parse(cast(str, content.prompt)).render(values)
    compiled: list[Message] = []
    for message in cast(list[Message], content.prompt):
        if message.get("type") == "placeholder":
            compiled.extend(_placeholder_messages(message["name"], values[message["name"]]))
        else:
            compiled.append({"role": message["role"], "content": parse(message["content"]).render(values)})
    return compiled


def _placeholder_messages(name: str, value: Any) -> list[Message]:
    if not isinstance(value, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in value
    ):
        raise RenderError(message=f"placeholder {name!r} takes a list of messages with role and content")
    return [dict(m) for m in value]


def content_hash(type_: str, prompt: Any, config: Any) -> str:
    return hashlib.sha256(_canonical({"type": type_, "prompt": prompt, "config": config})).hexdigest()


def _canonical(value: Any) -> bytes:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise ContentError(f"The prompt and config must be plain JSON values ({exc}).") from exc
