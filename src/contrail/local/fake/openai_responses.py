"""OpenAI ``POST /v1/responses``: the response object, or its event stream (``response.created`` ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contrail.local.fake.call import Call, Frame, sse
from contrail.local.fake.errors import invalid_field
from contrail.local.fake.prompt import collect, text_of
from contrail.local.fake.reply import JsonMode, Reply, build_reply
from contrail.local.fake.script import Behaviour
from contrail.local.fake.tokens import count_tokens, split_pieces


async def handle(call: Call) -> None:
    """Answer a Responses API request as OpenAI would."""
    model = call.require("model", str)
    raw_input = call.require("input", (str, list))
    items = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input
    instructions = text_of(call.body.get("instructions"))
    texts, last_user = collect([{"role": "system", "content": instructions}, *items])
    request = call.record(
        "openai.responses", model, "\n".join(texts), last_user, sum(map(count_tokens, texts))
    )
    behaviour = await call.decide(request)
    max_tokens = call.optional_int("max_output_tokens")
    reply = build_reply(request, behaviour, json_mode=_text_format(call), max_tokens=max_tokens)
    output = _output(call, reply)
    final = _response(call, model, output, _usage(request.prompt_tokens, reply, behaviour), reply)
    if call.body.get("stream") is True:
        await call.send_stream(_events(final, output), behaviour)
    else:
        await call.send_body(final, behaviour, reply.completion_tokens)


def _text_format(call: Call) -> JsonMode:
    text = call.body.get("text")
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping) or fmt.get("type") not in ("json_object", "json_schema"):
        return None
    if fmt["type"] == "json_object":
        return {}
    schema = fmt.get("schema")
    if not isinstance(schema, Mapping):
        raise invalid_field("openai", "text.format.schema", "a JSON schema object is required.")
    return schema or {"type": "object"}


def _usage(prompt_tokens: int, reply: Reply, behaviour: Behaviour) -> dict[str, Any]:
    cached = behaviour.usage.cache_read_tokens if behaviour.usage else None
    return {
        "input_tokens": prompt_tokens,
        "input_tokens_details": {"cached_tokens": cached or 0},
        "output_tokens": reply.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt_tokens + reply.completion_tokens,
    }


def _output(call: Call, reply: Reply) -> list[dict[str, Any]]:
    if reply.tool_calls:
        return [
            {
                "id": f"fc_{call.request_id}{i}",
                "type": "function_call",
                "status": "completed",
                "call_id": tc.call_id or f"call_{call.request_id[-12:]}{i}",
                "name": tc.name,
                "arguments": tc.arguments,
            }
            for i, tc in enumerate(reply.tool_calls)
        ]
    if reply.refusal is not None:
        part: dict[str, Any] = {"type": "refusal", "refusal": reply.refusal}
    else:
        part = {"type": "output_text", "text": reply.text or "", "annotations": [], "logprobs": []}
    status = "incomplete" if reply.finish == "length" else "completed"
    message = {"id": f"msg_{call.request_id}", "type": "message", "status": status, "role": "assistant"}
    return [{**message, "content": [part]}]


def _response(
    call: Call, model: str, output: list[dict[str, Any]], usage: dict[str, Any], reply: Reply
) -> dict[str, Any]:
    truncated = reply.finish == "length"
    fmt = (
        call.body.get("text") if isinstance(call.body.get("text"), Mapping) else {"format": {"type": "text"}}
    )
    return {
        "id": f"resp_{call.request_id}",
        "object": "response",
        "created_at": call.created,
        "status": "incomplete" if truncated else "completed",
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if truncated else None,
        "instructions": call.body.get("instructions"),
        "max_output_tokens": call.body.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": call.body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": call.body.get("temperature", 1.0),
        "text": fmt,
        "tool_choice": call.body.get("tool_choice", "auto"),
        "tools": call.body.get("tools", []),
        "top_p": call.body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": call.body.get("metadata") or {},
    }


class _EventLog:
    """Numbers events in order, as the ``sequence_number`` field requires."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def add(self, kind: str, data: dict[str, Any], *, token: bool = False) -> None:
        event = {"type": kind, "sequence_number": len(self.frames), **data}
        self.frames.append((sse(event, kind), token))


def _events(final: dict[str, Any], output: list[dict[str, Any]]) -> list[Frame]:
    log = _EventLog()
    pending = {**final, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    log.add("response.created", {"response": pending})
    log.add("response.in_progress", {"response": pending})
    for index, item in enumerate(output):
        if item["type"] == "function_call":
            _function_call_events(log, index, item)
        else:
            _message_events(log, index, item)
    done = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    log.add(done, {"response": final})
    return log.frames


def _message_events(log: _EventLog, index: int, item: dict[str, Any]) -> None:
    part = item["content"][0]
    ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
    log.add(
        "response.output_item.added",
        {"output_index": index, "item": {**item, "status": "in_progress", "content": []}},
    )
    empty = {**part, "text": ""} if part["type"] == "output_text" else {**part, "refusal": ""}
    log.add("response.content_part.added", {**ids, "part": empty})
    if part["type"] == "output_text":
        for piece in split_pieces(part["text"]):
            log.add("response.output_text.delta", {**ids, "delta": piece, "logprobs": []}, token=True)
        log.add("response.output_text.done", {**ids, "text": part["text"], "logprobs": []})
    else:
        for piece in split_pieces(part["refusal"]):
            log.add("response.refusal.delta", {**ids, "delta": piece}, token=True)
        log.add("response.refusal.done", {**ids, "refusal": part["refusal"]})
    log.add("response.content_part.done", {**ids, "part": part})
    log.add("response.output_item.done", {"output_index": index, "item": item})


def _function_call_events(log: _EventLog, index: int, item: dict[str, Any]) -> None:
    ids = {"item_id": item["id"], "output_index": index}
    log.add(
        "response.output_item.added",
        {"output_index": index, "item": {**item, "status": "in_progress", "arguments": ""}},
    )
    for piece in split_pieces(item["arguments"]):
        log.add("response.function_call_arguments.delta", {**ids, "delta": piece}, token=True)
    log.add(
        "response.function_call_arguments.done", {**ids, "name": item["name"], "arguments": item["arguments"]}
    )
    log.add("response.output_item.done", {"output_index": index, "item": item})
