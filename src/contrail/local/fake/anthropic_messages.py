"""Anthropic ``POST /v1/messages`` (plain and SSE events) and ``POST /v1/messages/count_tokens``.

Prompt caching is simulated: the prompt up to the last block marked ``cache_control`` (tools, then system,
then messages) is the cacheable prefix. Its tokens count as ``cache_creation_input_tokens`` the first time
the script sees that prefix and as ``cache_read_input_tokens`` afterwards; ``input_tokens`` is the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from contrail.local.fake.call import Call, Frame, sse
from contrail.local.fake.errors import invalid_field
from contrail.local.fake.prompt import collect, text_of
from contrail.local.fake.reply import Reply, build_reply
from contrail.local.fake.script import Behaviour, FakeRequest
from contrail.local.fake.tokens import count_tokens, split_pieces

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "refusal": "refusal"}


def _parse(call: Call) -> tuple[str, list[Any], list[str], str]:
    model = call.require("model", str)
    messages = call.require("messages", list)
    if not messages:
        raise invalid_field("anthropic", "messages", "at least one message is required")
    system = text_of(call.body.get("system"))
    texts, last_user = collect(messages)
    return model, messages, [system, *texts] if system else texts, last_user


async def handle_count_tokens(call: Call) -> None:
    """Answer ``count_tokens`` with the same tokenizer the messages endpoint reports."""
    _, _, texts, _ = _parse(call)
    payload = orjson.dumps({"input_tokens": sum(map(count_tokens, texts))})
    await call.exchange.send_json(200, payload, call.response_headers())


async def handle(call: Call) -> None:
    """Answer a Messages API request as Anthropic would."""
    model, messages, texts, last_user = _parse(call)
    max_tokens = call.optional_int("max_tokens")
    if max_tokens is None:
        call.require("max_tokens", int)
    request = call.record(
        "anthropic.messages", model, "\n".join(texts), last_user, sum(map(count_tokens, texts))
    )
    behaviour = await call.decide(request)
    reply = build_reply(request, behaviour, json_mode=None, max_tokens=max_tokens)
    usage = _usage(call, request, messages, reply, behaviour)
    content = _content(call, reply)
    message = {
        "id": f"msg_{call.request_id}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP[reply.finish],
        "stop_sequence": None,
        "usage": usage,
    }
    if call.body.get("stream") is True:
        await call.send_stream(_events(message), behaviour)
    else:
        await call.send_body(message, behaviour, reply.completion_tokens)


def _content(call: Call, reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = reply.refusal if reply.refusal is not None else reply.text
    if text:
        blocks.append({"type": "text", "text": text})
    for i, tc in enumerate(reply.tool_calls):
        tool_id = tc.call_id or f"toolu_{call.request_id}{i}"
        blocks.append(
            {"type": "tool_use", "id": tool_id, "name": tc.name, "input": orjson.loads(tc.arguments)}
        )
    return blocks


def _usage(
    call: Call, request: FakeRequest, messages: list[Any], reply: Reply, behaviour: Behaviour
) -> dict[str, Any]:
    prefix_text, prefix_tokens = _cache_prefix(call.body, messages)
    read = creation = 0
    if prefix_tokens:
        if call.script.cache_lookup(hash((request.model, prefix_text))):
            read = prefix_tokens
        else:
            creation = prefix_tokens
    override = behaviour.usage
    if override is not None:
        read = read if override.cache_read_tokens is None else override.cache_read_tokens
        creation = creation if override.cache_creation_tokens is None else override.cache_creation_tokens
    return {
        "input_tokens": max(request.prompt_tokens - prefix_tokens, 0),
        "output_tokens": reply.completion_tokens,
        "cache_creation_input_tokens": creation,
        "cache_read_input_tokens": read,
        "service_tier": "standard",
    }


def _blocks(body: Mapping[str, Any], messages: list[Any]) -> Iterable[tuple[Any, bool]]:
    """Every prompt block in cache order, with whether it counts toward input tokens."""
    for tool in body.get("tools") or ():
        yield tool, False
    system = body.get("system")
    yield from ((b, True) for b in (system if isinstance(system, list) else [system] if system else []))
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        yield from ((b, True) for b in (content if isinstance(content, list) else [content]))


def _cache_prefix(body: Mapping[str, Any], messages: list[Any]) -> tuple[str, int]:
    """The text and token count of the prompt up to the last ``cache_control`` breakpoint."""
    seen: list[str] = []
    tokens = 0
    prefix: tuple[str, int] = ("", 0)
    for block, counted in _blocks(body, messages):
        text = text_of(block) if counted else orjson.dumps(block).decode()
        seen.append(text)
        tokens += count_tokens(text) if counted else 0
        if isinstance(block, Mapping) and block.get("cache_control"):
            prefix = ("\x00".join(seen), tokens)
    return prefix


def _events(message: dict[str, Any]) -> list[Frame]:
    start_usage = {**message["usage"], "output_tokens": 1}
    opening = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
    frames: list[Frame] = [
        (sse({"type": "message_start", "message": opening}, "message_start"), False),
        (sse({"type": "ping"}, "ping"), False),
    ]
    for index, block in enumerate(message["content"]):
        frames += _block_events(index, block)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    usage = {"output_tokens": message["usage"]["output_tokens"]}
    frames.append((sse({"type": "message_delta", "delta": delta, "usage": usage}, "message_delta"), False))
    frames.append((sse({"type": "message_stop"}, "message_stop"), False))
    return frames


def _block_events(index: int, block: dict[str, Any]) -> list[Frame]:
    empty: dict[str, Any]
    if block["type"] == "text":
        empty, deltas = (
            {"type": "text", "text": ""},
            [{"type": "text_delta", "text": p} for p in split_pieces(block["text"])],
        )
    else:
        pieces = split_pieces(orjson.dumps(block["input"]).decode())
        empty, deltas = (
            {**block, "input": {}},
            [{"type": "input_json_delta", "partial_json": p} for p in pieces],
        )
    frames = [
        (
            sse(
                {"type": "content_block_start", "index": index, "content_block": empty}, "content_block_start"
            ),
            False,
        )
    ]
    for delta in deltas:
        frames.append(
            (
                sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"),
                True,
            )
        )
    frames.append((sse({"type": "content_block_stop", "index": index}, "content_block_stop"), False))
    return frames
