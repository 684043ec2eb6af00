"""OpenAI ``POST /v1/chat/completions``: plain JSON and SSE chunks (usage chunk with ``include_usage``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contrail.local.fake.call import Call, Frame, sse
from contrail.local.fake.errors import invalid_field
from contrail.local.fake.prompt import collect
from contrail.local.fake.reply import JsonMode, Reply, build_reply
from contrail.local.fake.script import Behaviour
from contrail.local.fake.tokens import count_tokens, split_pieces

_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "refusal": "stop"}
_DONE: Frame = (b"data: [DONE]\n\n", False)
FINGERPRINT = "fp_contrail_fake"


async def handle(call: Call) -> None:
    """Answer a chat completion request as OpenAI would."""
    model = call.require("model", str)
    messages = call.require("messages", list)
    if not messages:
        raise invalid_field(
            "openai", "messages", "expected an array with minimum length 1, but got an empty array."
        )
    texts, last_user = collect(messages)
    prompt = "\n".join(texts)
    request = call.record("openai.chat", model, prompt, last_user, sum(map(count_tokens, texts)))
    behaviour = await call.decide(request)
    json_mode = response_format(call)
    max_tokens = call.optional_int("max_completion_tokens", "max_tokens")
    reply = build_reply(request, behaviour, json_mode=json_mode, max_tokens=max_tokens)
    structured = bool(json_mode)
    if call.body.get("stream") is True:
        await call.send_stream(
            _chunks(call, model, request.prompt_tokens, reply, behaviour, structured), behaviour
        )
    else:
        payload = completion(call, model, request.prompt_tokens, reply, behaviour, structured)
        await call.send_body(payload, behaviour, reply.completion_tokens)


def response_format(call: Call) -> JsonMode:
    """``None`` for text, ``{}`` for ``json_object``, the schema for ``json_schema``."""
    fmt = call.body.get("response_format")
    if not isinstance(fmt, Mapping) or fmt.get("type") not in ("json_object", "json_schema"):
        return None
    if fmt["type"] == "json_object":
        return {}
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    if not isinstance(schema, Mapping):
        raise invalid_field("openai", "response_format.json_schema", "a 'schema' object is required.")
    return schema or {"type": "object"}


def usage(prompt_tokens: int, reply: Reply, behaviour: Behaviour) -> dict[str, Any]:
    """The ``usage`` object; ``cached_tokens`` comes from a scripted ``usage(cache_read_tokens=...)``."""
    cached = behaviour.usage.cache_read_tokens if behaviour.usage else None
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached or 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_calls(call: Call, reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": tc.call_id or f"call_{call.request_id[-12:]}{index}",
            "type": "function",
            "function": {"name": tc.name, "arguments": tc.arguments},
        }
        for index, tc in enumerate(reply.tool_calls)
    ]


def _message(call: Call, reply: Reply, structured: bool) -> dict[str, Any]:
    content, refusal = reply.text, None
    if reply.refusal is not None:
        # Structured outputs report a refusal in its own field; free text refuses in the content.
        content, refusal = (None, reply.refusal) if structured else (reply.refusal, None)
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal, "annotations": []}
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(call, reply)
    return message


def completion(
    call: Call, model: str, prompt_tokens: int, reply: Reply, behaviour: Behaviour, structured: bool
) -> dict[str, Any]:
    """The ``chat.completion`` object."""
    return {
        "id": f"chatcmpl-{call.request_id}",
        "object": "chat.completion",
        "created": call.created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": _message(call, reply, structured),
                "logprobs": None,
                "finish_reason": _FINISH[reply.finish],
            }
        ],
        "usage": usage(prompt_tokens, reply, behaviour),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def _chunks(
    call: Call, model: str, prompt_tokens: int, reply: Reply, behaviour: Behaviour, structured: bool
) -> list[Frame]:
    options = call.body.get("stream_options")
    include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
    head: dict[str, Any] = {
        "id": f"chatcmpl-{call.request_id}",
        "object": "chat.completion.chunk",
        "created": call.created,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None, *, token: bool = True) -> Frame:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**head, "choices": [choice], **extra}), token

    frames = [chunk({"role": "assistant", "content": "", "refusal": None}, token=False)]
    message = _message(call, reply, structured)
    for key in ("content", "refusal"):
        frames += [chunk({key: piece}) for piece in split_pieces(message[key] or "")]
    for index, tool in enumerate(message.get("tool_calls", ())):
        opening = {"index": index, "id": tool["id"], "type": "function"}
        frames.append(
            chunk(
                {"tool_calls": [{**opening, "function": {"name": tool["function"]["name"], "arguments": ""}}]}
            )
        )
        pieces = split_pieces(tool["function"]["arguments"])
        frames += [chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in pieces]
    frames.append(chunk({}, _FINISH[reply.finish], token=False))
    if include_usage:
        frames.append((sse({**head, "choices": [], "usage": usage(prompt_tokens, reply, behaviour)}), False))
    frames.append(_DONE)
    return frames
