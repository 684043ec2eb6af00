"""One API call being answered: the shared steps every endpoint takes, and scripted timing of the answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from contrail.local.fake.errors import Dialect, ProviderError, invalid_field, missing_field, unknown_model
from contrail.local.fake.errors import context_exceeded as _context_exceeded
from contrail.local.fake.exchange import ConnectionDropped, Exchange
from contrail.local.fake.script import MAX_DELAY_S, Api, Behaviour, FakeRequest, FakeScript

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "cookie", "proxy-authorization"})

#: A streamed SSE frame and whether it carries one token (token frames are the ones that get paced).
Frame = tuple[bytes, bool]


@dataclass
class Call:
    """The parsed JSON body of one request plus what is needed to answer it."""

    exchange: Exchange
    script: FakeScript
    body: Mapping[str, Any]
    dialect: Dialect
    request_id: str
    created: int

    def response_headers(self) -> list[tuple[bytes, bytes]]:
        """The provider's request-id header."""
        name = b"request-id" if self.dialect == "anthropic" else b"x-request-id"
        return [(name, self.request_id.encode())]

    def require(self, name: str, kind: type | tuple[type, ...]) -> Any:
        """The body field ``name``; a provider 400 when it is absent or not of ``kind``."""
        value = self.body.get(name)
        if value is None:
            raise missing_field(self.dialect, name)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise invalid_field(self.dialect, name, f"expected {_kind_name(kind)}.")
        return value

    def optional_int(self, *names: str) -> int | None:
        """The first of ``names`` present in the body, which must be a positive integer."""
        for name in names:
            value = self.body.get(name)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise invalid_field(self.dialect, name, "expected an integer greater than or equal to 1.")
            return value
        return None

    def record(self, api: Api, model: str, prompt: str, last_user: str, prompt_tokens: int) -> FakeRequest:
        """Build the log entry for this call (credentials scrubbed) and check the model and context size."""
        if not self.script.accepts_model(model):
            raise unknown_model(self.dialect, model)
        if prompt_tokens > self.script.context_window:
            raise _context_exceeded(self.dialect, prompt_tokens, self.script.context_window)
        return FakeRequest(
            api=api,
            model=model,
            prompt=prompt,
            last_user=last_user,
            prompt_tokens=prompt_tokens,
            body=self.body,
            headers=self._scrubbed_headers(),
            stream=self.body.get("stream") is True,
        )

    def _scrubbed_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for key, value in self.exchange.scope["headers"]:
            name = bytes(key).decode("latin-1")
            headers[name] = "[redacted]" if name in _SECRET_HEADERS else bytes(value).decode("latin-1")
        return headers

    async def decide(self, request: FakeRequest) -> Behaviour:
        """Log ``request``, pick its behaviour, and play scripted errors and hangs."""
        behaviour = self.script.decide(request)
        if behaviour.kind == "error" and behaviour.error is not None:
            await self.exchange.pause(behaviour.latency.ttft_s)
            spec = behaviour.error
            raise ProviderError(
                spec.status, spec.message, spec.error_type, spec.code, retry_after=spec.retry_after
            )
        if behaviour.kind == "timeout":
            await self.exchange.pause(behaviour.hang_s)
        return behaviour

    async def send_body(self, payload: Mapping[str, Any], behaviour: Behaviour, tokens: int) -> None:
        """Send a non-streaming answer after the scripted latency (or drop it half-way)."""
        latency = behaviour.latency
        await self.exchange.pause(min(latency.ttft_s + tokens * latency.per_token_s(), MAX_DELAY_S))
        data = orjson.dumps(payload)
        if behaviour.drop_after_tokens is not None:
            await self.exchange.send_partial_json(data, self.response_headers())
        await self.exchange.send_json(200, data, self.response_headers())

    async def send_stream(self, frames: Sequence[Frame], behaviour: Behaviour) -> None:
        """Stream SSE ``frames``: wait ``ttft`` before the first token frame, then pace and maybe drop."""
        await self.exchange.start_stream(self.response_headers())
        latency, drop_at = behaviour.latency, behaviour.drop_after_tokens
        if not latency.ttft_s and not latency.tokens_per_s and drop_at is None:
            await self.exchange.send_chunk(b"".join(frame for frame, _ in frames), last=True)
            return
        tokens_sent = 0
        for frame, is_token in frames:
            if is_token:
                if tokens_sent == drop_at:
                    raise ConnectionDropped(f"scripted drop after {drop_at} streamed tokens")
                await self.exchange.pause(latency.ttft_s if tokens_sent == 0 else latency.per_token_s())
                tokens_sent += 1
            await self.exchange.send_chunk(frame)
        if drop_at is not None and tokens_sent <= drop_at:
            raise ConnectionDropped("scripted drop before the end of the stream")
        await self.exchange.send_chunk(b"", last=True)


def sse(data: Mapping[str, Any], event: str | None = None) -> bytes:
    """One server-sent event frame (``event:`` line only when given)."""
    payload = orjson.dumps(data)
    if event is None:
        return b"data: " + payload + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", list: "an array", dict: "an object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
