"""What an experiment runs over each dataset item: a Python callable, an HTTP endpoint, or a prompt
version with a model through an OpenAI-compatible provider.

A target is awaited once per attempt with the item's input and returns a :class:`TargetOutput`.
Transient failures (HTTP 429/5xx, connection errors) are recognised by :func:`retry_hint`, which the
runner uses to retry with backoff; anything else the target raises becomes the item's error.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import email.utils
import functools
import hashlib
import inspect
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx
    import openai

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
MAX_RETRY_DELAY_S = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class TargetOutput:
    """What a target produced for one item. A callable may return one to report cost and tokens."""

    output: Any
    cost_usd: Decimal | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    # Retrieved context, for faithfulness scorers.
    context: str | None = None
    # The cost is already on a generation span of the item's trace (not repeated on the item's span).
    cost_traced: bool = False


class Target(Protocol):
    """Runs one item. ``describe()`` is JSON recorded on the experiment and hashed for the cache."""

    kind: str
    cacheable: bool

    def describe(self) -> dict[str, Any]: ...

    async def __call__(self, input: Any) -> TargetOutput: ...

    async def aclose(self) -> None: ...


class TargetHTTPError(Exception):
    """An HTTP endpoint answered with an error status; 429/5xx are retried."""

    def __init__(self, status_code: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.retry_after = retry_after


# --- retries ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, never shorter than the server's Retry-After."""

    max_retries: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = MAX_RETRY_DELAY_S

    def delay(self, attempt: int, hint: float) -> float:
        backoff = random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))
        return min(self.max_delay_s, max(hint, backoff))


def retry_hint(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (0.0 when it did not) if ``exc`` is transient, else None.

    Understands our :class:`TargetHTTPError`, ``httpx`` transport/status errors and the ``openai`` /
    ``anthropic`` SDKs' status and connection errors (duck-typed: no import needed).
    """
    if isinstance(exc, TargetHTTPError):
        return (exc.retry_after or 0.0) if exc.status_code in _RETRY_STATUS else None
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    if isinstance(status, int):
        if status not in _RETRY_STATUS:
            return None
        headers = getattr(response, "headers", None)
        return retry_after_seconds(headers) if headers is not None else 0.0
    name = type(exc).__name__
    if name in ("APIConnectionError", "ConnectError", "ReadError", "RemoteProtocolError", "WriteError"):
        return 0.0
    return None


def retry_after_seconds(headers: Mapping[str, str]) -> float:
    """``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), capped; 0.0 when absent."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return min(max(float(raw_ms) / 1000, 0.0), MAX_RETRY_DELAY_S)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return 0.0
    try:
        return min(max(float(raw), 0.0), MAX_RETRY_DELAY_S)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return 1.0
    return min(max(when - time.time(), 0.0), MAX_RETRY_DELAY_S)


# --- callables --------------------------------------------------------------------------------


class CallableTarget:
    """A Python function of the item's input, sync or async; it may return a TargetOutput.

    Sync functions run on a thread pool sized to the run's concurrency, with the caller's context
    copied so spans they open nest under the item's trace. Not cacheable by default: what a
    function does cannot be hashed (it may call code that changed since the cache was written).
    """

    kind = "python"

    def __init__(self, fn: Callable[[Any], Any], *, cacheable: bool = False, threads: int = 8) -> None:
        self.fn = fn
        self.cacheable = cacheable
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - callable objects with an async __call__
        )
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None

    def describe(self) -> dict[str, Any]:
        name = f"{getattr(self.fn, '__module__', '?')}:{getattr(self.fn, '__qualname__', repr(self.fn))}"
        return {"kind": self.kind, "function": name, "code": _code_hash(self.fn)}

    async def __call__(self, input: Any) -> TargetOutput:
        if self.is_async:
            result = await self.fn(input)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="contrail-eval")
            context = contextvars.copy_context()
            call = functools.partial(context.run, self.fn, input)
            result = await asyncio.get_running_loop().run_in_executor(self._pool, call)
        return result if isinstance(result, TargetOutput) else TargetOutput(result)

    async def aclose(self) -> None:
        if self._pool is not None:
            # wait=False: a hung sync target (already reported as timed out) must not hang the run.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _code_hash(fn: Any) -> str | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    return hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()[:16]


# --- HTTP endpoints ---------------------------------------------------------------------------


class HttpTarget:
    """POST the input as JSON to ``url`` and read the output at ``output_path`` of the JSON answer.

    ``input_field`` wraps the input (``{"question": input}``); without it a dict input is the body
    and anything else is sent as ``{"input": input}``. ``output_path`` is dotted, with list indexes
    (``choices.0.message.content``); empty means the whole answer.
    """

    kind = "http"
    cacheable = True

    def __init__(
        self,
        url: str,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        input_field: str | None = None,
        output_path: str = "",
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.method = method.upper()
        self.headers = dict(headers or {})
        self.input_field = input_field
        self.output_path = output_path
        self._timeout = timeout_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def describe(self) -> dict[str, Any]:
        # headers are left out: they often hold credentials, and the experiment record is shared
        return {
            "kind": self.kind,
            "url": self.url,
            "method": self.method,
            "input_field": self.input_field,
            "output_path": self.output_path,
        }

    async def __call__(self, input: Any) -> TargetOutput:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        body = {self.input_field: input} if self.input_field else input
        if not self.input_field and not isinstance(body, dict):
            body = {"input": input}
        response = await self._client.request(self.method, self.url, json=body, headers=self.headers)
        if response.status_code >= 400:
            hint = retry_after_seconds(response.headers)
            raise TargetHTTPError(response.status_code, response.text[:500], hint)
        try:
            answer = response.json()
        except ValueError as exc:
            raise ValueError(f"{self.url} did not answer JSON: {response.text[:200]!r}") from exc
        return TargetOutput(extract(answer, self.output_path))

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def extract(value: Any, path: str) -> Any:
    """The value at dotted ``path`` (list indexes allowed); KeyError naming the missing step."""
    for step in filter(None, path.split(".")):
        if isinstance(value, list) and step.lstrip("-").isdigit() and -len(value) <= int(step) < len(value):
            value = value[int(step)]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            raise KeyError(f"output path {path!r}: no {step!r} in the answer")
    return value


# --- prompt + model -----------------------------------------------------------------------------

PromptSource = Callable[[], Awaitable[Any]]


class ModelTarget:
    """Chat messages (a fetched prompt version or inline messages) sent to a model through an
    OpenAI-compatible provider with the real ``openai.AsyncOpenAI`` client.

    ``messages`` are templates: ``{{name}}`` is replaced by the item input's field ``name`` (or by
    the whole input for ``{{input}}``). A registry prompt (``contrail.get_prompt``) is compiled with
    the item input as its variables instead: a missing variable is that item's error. The provider's
    own retries are off: the runner retries, honouring Retry-After, so a 429 is counted and backed
    off in one place.

    Inside a traced run the call is a generation linked to the prompt's name and version (by the
    openai instrumentation when it is on, else by a span recorded here), and its cost is priced from
    the usage with the built-in price catalogue (``cost_usd``; None for models it does not know).
    """

    kind = "prompt"
    cacheable = True

    def __init__(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]] | None = None,
        prompt: Any = None,
        base_url: str | None = None,
        api_key: str | None = None,
        params: Mapping[str, Any] | None = None,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        if messages is None and prompt is None:
            raise ValueError("a model target needs messages or a prompt")
        self.model = model
        self.prompt = prompt
        self._prompt_messages = _prompt_messages(prompt) if prompt is not None else None
        self.messages = messages if messages is not None else self._prompt_messages
        self.base_url = base_url
        self.params = dict(params or {})
        self._api_key = api_key
        self._client = client

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "kind": self.kind,
            "model": self.model,
            "base_url": self.base_url,
            "params": self.params,
            "messages": self.messages,
        }
        for field in ("name", "version"):
            value = getattr(self.prompt, field, None)
            if value is not None:
                described[f"prompt_{field}"] = value
        return described

    async def __call__(self, input: Any) -> TargetOutput:
        messages = self._messages(input)
        linked = self.prompt if callable(getattr(self.prompt, "use", None)) else None
        if _traced_here():
            from contrail.sdk.scope import generation

            parameters = dict(self.params) or None
            async with generation(
                "llm", model=self.model, input=messages, model_parameters=parameters, prompt=linked
            ) as span:
                output = await self._complete(messages)
                span.update(
                    output=output.output,
                    usage={"input_tokens": output.input_tokens, "output_tokens": output.output_tokens},
                    cost_usd=None if output.cost_usd is None else str(output.cost_usd),
                )
            return dataclasses.replace(output, cost_traced=True)
        if linked is None:
            return await self._complete(messages)
        with linked.use():  # the openai instrumentation (when on) links its generation to the prompt
            return await self._complete(messages)

    def _messages(self, input: Any) -> Any:
        compile = getattr(self.prompt, "compile", None)
        if not callable(compile) or self.messages is not self._prompt_messages:
            return [render_message(m, input) for m in self.messages or ()]
        label = f"prompt {getattr(self.prompt, 'name', '?')!r} v{getattr(self.prompt, 'version', '?')}"
        if not isinstance(input, Mapping):
            raise PromptInputError(
                f"{label} takes variables ({', '.join(self.prompt.variables) or 'none'}); the item's input "
                f"must be an object of them, not {type(input).__name__}"
            )
        try:
            compiled = compile(allow_extra=True, **{str(k): v for k, v in input.items()})
        except ValueError as exc:  # RenderError: names the missing variables
            raise PromptInputError(f"{label}: {exc}") from exc
        return compiled if isinstance(compiled, list) else [{"role": "user", "content": compiled}]

    async def _complete(self, messages: Any) -> TargetOutput:
        client = self._openai()
        completion = await client.chat.completions.create(model=self.model, messages=messages, **self.params)
        usage = completion.usage
        text = completion.choices[0].message.content if completion.choices else None
        input_tokens = usage.prompt_tokens if usage else None
        output_tokens = usage.completion_tokens if usage else None
        return TargetOutput(
            text,
            cost_usd=price_call(completion.model or self.model, input_tokens, output_tokens),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    def _openai(self) -> openai.AsyncOpenAI:
        if self._client is None:
            try:
                import openai
            except ImportError as err:
                raise ImportError("Model targets need the openai package: pip install openai") from err
            self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()


class PromptInputError(ValueError):
    """An item's input does not fill the prompt's variables (not retried: the item's error)."""


def _traced_here() -> bool:
    """True inside a sampled span when the openai instrumentation would not record the call itself."""
    from contrail.sdk.context import current_span

    parent = current_span()
    if parent is None or not parent.sampled:
        return False
    try:
        from openai.resources.chat.completions import AsyncCompletions
    except ImportError:
        return True
    return getattr(AsyncCompletions.create, "__contrail_original__", None) is None


def price_call(model: str | None, input_tokens: int | None, output_tokens: int | None) -> Decimal | None:
    """The cost of one model call from its usage with the built-in price catalogue, as ingest prices
    generations; None when the model is unknown or usage is missing."""
    if not model or (input_tokens is None and output_tokens is None):
        return None
    from contrail.analytics.catalogue import default_catalogue
    from contrail.analytics.cost import price_observation
    from contrail.schema.observation import Observation, ObservationType, Usage
    from contrail.schema.timeconv import now_us

    call = Observation(
        trace_id="0" * 32,
        span_id="0" * 16,
        name="eval",
        start_us=now_us(),
        type=ObservationType.GENERATION,
        model_requested=model,
        usage=Usage(input_tokens=input_tokens, output_tokens=output_tokens),
    )
    price_observation(call, default_catalogue())
    return call.cost.total


def _prompt_messages(prompt: Any) -> list[dict[str, Any]]:
    """Chat messages of a fetched prompt version (chat prompts) or one user message (text prompts)."""
    content = getattr(prompt, "messages", None) or getattr(prompt, "prompt", None)
    if content is None and isinstance(prompt, Mapping):
        content = prompt.get("messages") or prompt.get("prompt") or prompt.get("template")
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if isinstance(content, list):
        return [dict(m) for m in content]
    raise ValueError(f"cannot read messages from prompt {prompt!r}")


def render_message(message: Mapping[str, Any], input: Any) -> dict[str, Any]:
    """``message`` with ``{{var}}`` placeholders in its content filled from ``input``."""
    content = message.get("content")
    if not isinstance(content, str):
        return dict(message)
    values = input if isinstance(input, Mapping) else {}
    text = content.replace("{{input}}", input if isinstance(input, str) else _json(input))
    for key, value in values.items():
        text = text.replace("{{" + str(key) + "}}", value if isinstance(value, str) else _json(value))
    return {**message, "content": text}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)
