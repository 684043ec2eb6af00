"""Run one prompt version against a model from the Web UI, and describe the run as an observation.

Providers (all spoken to with the real ``openai`` AsyncOpenAI client, imported lazily):

- ``fake``: the bundled fake provider (``contrail.local.fake``), in process; echoes the last user
  message, with token counts, so a run costs what the model name would cost.
- ``local``: SmolLM2 through ``contrail.local.endpoint``, in process, when the ``local`` extra is there.
- ``openai``: any OpenAI-compatible endpoint, from ``CONTRAIL_PLAYGROUND_OPENAI_BASE_URL`` and
  ``CONTRAIL_PLAYGROUND_OPENAI_API_KEY``.

The run is traced by the caller (``observation_for`` + the server's write path) so it appears in the
project like any other generation, with ``prompt_name``/``prompt_version`` set.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal

from contrail.prompts.content import Message, compile_content
from contrail.prompts.model import PromptVersion
from contrail.prompts.template import RenderError
from contrail.schema.ids import new_span_id, new_trace_id
from contrail.schema.observation import Level, Observation, ObservationType, Status, TraceAttributes, Usage
from contrail.schema.timeconv import now_us

logger = logging.getLogger(__name__)

ProviderKey = Literal["fake", "local", "openai"]
PROVIDERS: tuple[ProviderKey, ...] = ("fake", "local", "openai")
DEFAULT_MODEL = "gpt-4o-mini"
MAX_MODEL_CHARS = 200
MAX_VALUE_CHARS = 100_000
MAX_TOKENS_LIMIT = 32_768
DEMO_EXTRA_HINT = "pip install 'contrail-llmops[demo]'"


class PlaygroundError(ValueError):
    """The run cannot start as asked; the message says what to change."""


@dataclasses.dataclass(frozen=True, slots=True)
class Provider:
    key: ProviderKey
    label: str
    available: bool
    note: str


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a provider answers: an OpenAI base URL, its key, and an in-process ASGI app (or None)."""

    base_url: str
    api_key: str
    app: Any = None


@dataclasses.dataclass(frozen=True, slots=True)
class RunRequest:
    provider: ProviderKey
    model: str
    temperature: float | None
    max_tokens: int | None
    values: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class RunResult:
    """What the model answered (or the error), with usage and timing."""

    output: str | None
    error: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    start_us: int
    end_us: int

    @property
    def latency_ms(self) -> float:
        return (self.end_us - self.start_us) / 1000


def providers(openai_base_url: str | None) -> list[Provider]:
    """The providers this server can run, each with whether it is available and why not."""
    local_ok, local_note = _local_available()
    return [
        Provider("fake", "Fake provider (bundled, echoes)", True, "Offline; answers echo the last message."),
        Provider("local", "Local model (SmolLM2-135M)", local_ok, local_note),
        Provider(
            "openai",
            "OpenAI-compatible endpoint",
            bool(openai_base_url),
            openai_base_url or "Set CONTRAIL_PLAYGROUND_OPENAI_BASE_URL (and _API_KEY) to enable.",
        ),
    ]


def _local_available() -> tuple[bool, str]:
    from contrail.local.model import INSTALL_HINT, LocalModelUnavailable, model_path

    try:
        model_path()
    except LocalModelUnavailable:
        return False, f"Not installed: {INSTALL_HINT}"
    if importlib.util.find_spec("xllamacpp") is None:
        return False, f"Not installed: {INSTALL_HINT}"
    return True, "Runs on this server's CPU; small and slow, fine for a demo."


def parse_run(
    version: PromptVersion, form: Mapping[str, str], *, enabled: set[ProviderKey] | None = None
) -> RunRequest:
    """Read the playground form: ``provider``, ``model``, ``temperature``, ``max_tokens``, one
    ``var.<name>`` field per variable and one ``placeholder.<name>`` (a JSON list of messages) per
    placeholder. Empty model/temperature fall back to the version's config. Raises PlaygroundError."""
    provider = form.get("provider", "fake")
    if provider not in PROVIDERS:
        raise PlaygroundError(f"Unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}.")
    if enabled is not None and provider not in enabled:
        raise PlaygroundError(f"The {provider} provider is not available on this server.")
    config = version.config
    model = form.get("model", "").strip() or str(config.get("model") or DEFAULT_MODEL)
    if len(model) > MAX_MODEL_CHARS:
        raise PlaygroundError(f"A model name has at most {MAX_MODEL_CHARS} characters.")
    temperature = _number(form.get("temperature", ""), config.get("temperature"), "temperature", 0, 2)
    max_tokens = _number(
        form.get("max_tokens", ""), config.get("max_tokens"), "max_tokens", 1, MAX_TOKENS_LIMIT
    )
    return RunRequest(
        provider=provider,
        model=model,
        temperature=temperature,
        max_tokens=None if max_tokens is None else int(max_tokens),
        values=_values(version, form),
    )


def _number(text: str, fallback: Any, field: str, low: float, high: float) -> float | None:
    text = text.strip()
    if not text:
        if isinstance(fallback, bool) or not isinstance(fallback, int | float):
            return None
        text = str(fallback)
    try:
        value = float(text)
    except ValueError:
        raise PlaygroundError(
            f"{field} must be a number between {low:g} and {high:g}, not {text!r}."
        ) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise PlaygroundError(f"{field} must be between {low:g} and {high:g}, not {text}.")
    if field == "max_tokens" and not value.is_integer():
        raise PlaygroundError("max_tokens must be a whole number.")
    return value


def _values(version: PromptVersion, form: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in version.variables:
        value = form.get(f"var.{name}")
        if value is None:
            raise PlaygroundError(f"Fill in the variable {name!r}.")
        if len(value) > MAX_VALUE_CHARS:
            raise PlaygroundError(f"Variable {name!r} is longer than {MAX_VALUE_CHARS:,} characters.")
        values[name] = value
    for name in version.content.placeholders:
        text = form.get(f"placeholder.{name}", "").strip() or "[]"
        try:
            values[name] = json.loads(text)
        except ValueError as exc:
            raise PlaygroundError(f"Placeholder {name!r} takes a JSON list of messages ({exc}).") from None
    return values


def messages_for(version: PromptVersion, values: Mapping[str, Any]) -> list[Message]:
    """The chat messages to send: a text prompt becomes one user message. Raises PlaygroundError."""
    try:
        compiled = compile_content(version.content, values)
    except RenderError as exc:
        raise PlaygroundError(str(exc)) from exc
    if isinstance(compiled, str):
        return [{"role": "user", "content": compiled}]
    return compiled


_lock = threading.Lock()
_apps: dict[str, Any] = {}


def endpoint_for(provider: ProviderKey, openai_base_url: str | None, openai_api_key: str | None) -> Endpoint:
    """Where to send a run. The fake provider and the local model run in this process (created once).
    Raises PlaygroundError when the provider is not available."""
    if provider == "openai":
        if not openai_base_url:
            raise PlaygroundError(
                "No OpenAI-compatible endpoint is configured: set CONTRAIL_PLAYGROUND_OPENAI_BASE_URL."
            )
        return Endpoint(openai_base_url, openai_api_key or "unused")
    return Endpoint(f"http://{provider}.invalid/v1", "unused", _in_process_app(provider))


def _in_process_app(provider: ProviderKey) -> Any:
    with _lock:
        if provider not in _apps:
            _apps[provider] = _fake_app() if provider == "fake" else _local_app()
        return _apps[provider]


def _fake_app() -> Any:
    from contrail.local.fake import FakeScript, create_fake_llm_app

    return create_fake_llm_app(FakeScript())


def _local_app() -> Any:
    from contrail.local.endpoint import create_local_model_app
    from contrail.local.model import LocalModelUnavailable, load_local_model

    try:
        return create_local_model_app(load_local_model())
    except LocalModelUnavailable as exc:
        raise PlaygroundError(str(exc)) from exc


async def call_model(
    endpoint: Endpoint, run: RunRequest, messages: list[Message], *, timeout_s: float
) -> RunResult:
    """One chat completion through the real ``openai`` client. Provider errors come back in
    ``RunResult.error`` (the run is still traced); a missing ``openai`` raises PlaygroundError."""
    try:
        import httpx2
        import openai
    except ImportError as exc:
        raise PlaygroundError(f"The playground needs the openai package: {DEMO_EXTRA_HINT}") from exc
    transport = httpx2.ASGITransport(app=endpoint.app) if endpoint.app is not None else None
    http_client = httpx2.AsyncClient(transport=transport, timeout=timeout_s)
    body: dict[str, Any] = {"model": run.model, "messages": messages}
    if run.temperature is not None:
        body["temperature"] = run.temperature
    if run.max_tokens is not None:
        body["max_tokens"] = run.max_tokens
    start, started = now_us(), time.monotonic()
    async with openai.AsyncOpenAI(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        max_retries=0,
        timeout=timeout_s,
        http_client=http_client,
    ) as client:
        try:
            response = await client.chat.completions.create(**body)
        except openai.APIError as exc:
            end = start + int((time.monotonic() - started) * 1_000_000)
            logger.info("Playground call to %s failed: %s", endpoint.base_url, exc)
            return RunResult(None, _error_text(exc), None, None, None, start, end)
    end = start + int((time.monotonic() - started) * 1_000_000)
    choice = response.choices[0].message if response.choices else None
    output = (choice.content or _tool_calls_text(choice)) if choice is not None else ""
    usage = response.usage
    return RunResult(
        output=output,
        error=None,
        model=response.model or run.model,
        input_tokens=usage.prompt_tokens if usage else None,
        output_tokens=usage.completion_tokens if usage else None,
        start_us=start,
        end_us=end,
    )


def _error_text(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    prefix = f"The provider answered {status}: " if status else "The provider could not be reached: "
    return prefix + str(exc)[:2000]


def _tool_calls_text(message: Any) -> str:
    calls = getattr(message, "tool_calls", None) or []
    return json.dumps([call.model_dump() for call in calls], indent=2) if calls else ""


def observation_for(
    version: PromptVersion, run: RunRequest, messages: list[Message], result: RunResult, user: str
) -> Observation:
    """The run as a generation in its own trace, linked to the prompt version (cost priced later)."""
    params: dict[str, Any] = {}
    if run.temperature is not None:
        params["temperature"] = run.temperature
    if run.max_tokens is not None:
        params["max_tokens"] = run.max_tokens
    return Observation(
        trace_id=new_trace_id(),
        span_id=new_span_id(),
        name=f"playground {version.name}",
        start_us=result.start_us,
        end_us=result.end_us,
        type=ObservationType.GENERATION,
        status=Status.ERROR if result.error else Status.OK,
        status_message=result.error,
        level=Level.ERROR if result.error else Level.DEFAULT,
        model_requested=run.model,
        model_response=result.model,
        model_parameters=params or None,
        input=messages,
        output=None if result.output is None else {"role": "assistant", "content": result.output},
        usage=Usage(input_tokens=result.input_tokens, output_tokens=result.output_tokens),
        user_id=user,
        metadata={"source": "playground", "playground_provider": run.provider},
        prompt_name=version.name,
        prompt_version=version.version,
        trace=TraceAttributes(name=f"playground {version.name}", tags=["playground"]),
    )
