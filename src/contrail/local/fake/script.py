"""Scripting the fake provider: rules matched against each request, and the log of what was sent.

A :class:`FakeScript` holds an ordered list of :class:`Rule` objects. For every request the first rule
whose conditions all hold (and that has uses left) decides the behaviour; when none matches, the
default behaviour is a deterministic echo of the last user message. Rules are built fluently::

    script = FakeScript()
    script.on(prompt_contains="weather").tool_call("get_weather", {"city": "Paris"})
    script.on(model="gpt-slow").latency(ttft_ms=200, tokens_per_s=50)
    script.on(times=1).error(429, retry_after=0.01)   # first call only; later calls fall through

Scripts are safe to mutate from the test thread while a server thread reads them.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

#: Upper bound for any single scripted delay, so a fake server can never hang a test.
MAX_DELAY_S = 30.0

Api = Literal["openai.chat", "openai.responses", "openai.embeddings", "anthropic.messages"]
Kind = Literal["echo", "text", "json", "invalid_json", "refusal", "tool_calls", "error", "timeout"]


@dataclass(frozen=True)
class FakeRequest:
    """One request received by the fake provider, as recorded in :attr:`FakeScript.requests`.

    ``prompt`` is the text of every message (system included) joined by newlines; ``last_user`` the
    text of the last user turn (what the echo answers); ``headers`` has credentials replaced by
    ``"[redacted]"``.
    """

    api: Api
    model: str
    prompt: str
    last_user: str
    prompt_tokens: int
    body: Mapping[str, Any]
    headers: Mapping[str, str]
    stream: bool


@dataclass(frozen=True)
class ToolCall:
    """A tool call the fake model makes: function ``name`` with JSON ``arguments``."""

    name: str
    arguments: Mapping[str, Any]
    call_id: str | None = None


@dataclass(frozen=True)
class ErrorSpec:
    """An HTTP error answered in the provider's own error shape."""

    status: int
    message: str | None = None
    retry_after: float | None = None
    error_type: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Latency:
    """Timing of an answer: delay before the first token, then a steady token rate (both capped)."""

    ttft_s: float = 0.0
    tokens_per_s: float | None = None

    def per_token_s(self) -> float:
        """Seconds between two streamed tokens (0 when no rate is set)."""
        return 0.0 if not self.tokens_per_s else 1.0 / self.tokens_per_s


@dataclass(frozen=True)
class UsageOverride:
    """Cache figures to report instead of the computed ones (``None`` keeps the computed value)."""

    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None


@dataclass(frozen=True)
class Behaviour:
    """What the fake model does for one request; built by :class:`Rule` methods."""

    kind: Kind = "echo"
    text: str | None = None
    json_value: Any = None
    tool_calls: tuple[ToolCall, ...] = ()
    error: ErrorSpec | None = None
    hang_s: float = 0.0
    latency: Latency = field(default_factory=Latency)
    drop_after_tokens: int | None = None
    usage: UsageOverride | None = None


def _cap(seconds: float) -> float:
    if seconds < 0:
        raise ValueError(f"a delay cannot be negative (got {seconds} s)")
    return min(seconds, MAX_DELAY_S)


class Rule:
    """Conditions on a request plus the behaviour to apply; methods return the rule for chaining."""

    def __init__(
        self,
        *,
        model: str | None = None,
        prompt_contains: str | None = None,
        prompt_matches: str | None = None,
        api: Api | None = None,
        when: Callable[[FakeRequest], bool] | None = None,
        times: int | None = None,
    ) -> None:
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 (got {times})")
        self._model = model
        self._contains = prompt_contains
        self._pattern = re.compile(prompt_matches) if prompt_matches is not None else None
        self._api = api
        self._when = when
        self._remaining = times
        self.behaviour = Behaviour()
        #: How many requests this rule has answered.
        self.hits = 0

    def matches(self, request: FakeRequest) -> bool:
        """Whether every condition of this rule holds for ``request`` (uses left included)."""
        if self._remaining is not None and self._remaining <= 0:
            return False
        if self._api is not None and request.api != self._api:
            return False
        if self._model is not None and not fnmatch.fnmatchcase(request.model, self._model):
            return False
        if self._contains is not None and self._contains not in request.prompt:
            return False
        if self._pattern is not None and not self._pattern.search(request.prompt):
            return False
        return self._when is None or self._when(request)

    def consume(self) -> Behaviour:
        """Count one use of this rule and return its behaviour."""
        self.hits += 1
        if self._remaining is not None:
            self._remaining -= 1
        return self.behaviour

    def _set(self, **changes: Any) -> Rule:
        self.behaviour = replace(self.behaviour, **changes)
        return self

    def echo(self) -> Rule:
        """Answer with the last user message (the default)."""
        return self._set(kind="echo")

    def respond(self, text: str) -> Rule:
        """Answer with the canned ``text``."""
        return self._set(kind="text", text=text)

    def json(self, value: Any) -> Rule:
        """Answer with ``value`` serialised as valid JSON."""
        return self._set(kind="json", json_value=value)

    def invalid_json(self, text: str = '{"answer": "unterminated') -> Rule:
        """Answer with text that looks like JSON but does not parse."""
        return self._set(kind="invalid_json", text=text)

    def refuse(self, text: str = "I'm sorry, but I can't help with that.") -> Rule:
        """Refuse: OpenAI ``refusal`` (structured outputs) or text; Anthropic ``stop_reason=refusal``."""
        return self._set(kind="refusal", text=text)

    def tool_call(
        self, name: str, arguments: Mapping[str, Any] | None = None, *, call_id: str | None = None
    ) -> Rule:
        """Call tool ``name``; call again on the same rule for parallel tool calls."""
        calls = self.behaviour.tool_calls if self.behaviour.kind == "tool_calls" else ()
        call = ToolCall(name=name, arguments=dict(arguments or {}), call_id=call_id)
        return self._set(kind="tool_calls", tool_calls=(*calls, call))

    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        error_type: str | None = None,
        code: str | None = None,
    ) -> Rule:
        """Fail with HTTP ``status`` in the provider's error shape; ``retry_after`` sets the headers."""
        if not 400 <= status <= 599:
            raise ValueError(f"an error status must be 4xx or 5xx (got {status})")
        spec = ErrorSpec(
            status, message, None if retry_after is None else _cap(retry_after), error_type, code
        )
        return self._set(kind="error", error=spec)

    def timeout(self, seconds: float = MAX_DELAY_S) -> Rule:
        """Send nothing for ``seconds`` (capped at ``MAX_DELAY_S``) so a client timeout fires; then echo."""
        return self._set(kind="timeout", hang_s=_cap(seconds))

    def latency(self, *, ttft_ms: float = 0.0, tokens_per_s: float | None = None) -> Rule:
        """Delay the first token by ``ttft_ms`` then emit ``tokens_per_s``; combines with any answer."""
        if tokens_per_s is not None and tokens_per_s <= 0:
            raise ValueError(f"tokens_per_s must be positive (got {tokens_per_s})")
        return self._set(latency=Latency(_cap(ttft_ms / 1000.0), tokens_per_s))

    def drop(self, after_tokens: int = 0) -> Rule:
        """Close the connection after ``after_tokens`` streamed tokens (mid-body when not streaming)."""
        if after_tokens < 0:
            raise ValueError(f"after_tokens cannot be negative (got {after_tokens})")
        return self._set(drop_after_tokens=after_tokens)

    def usage(
        self, *, cache_read_tokens: int | None = None, cache_creation_tokens: int | None = None
    ) -> Rule:
        """Report these prompt-cache token counts (OpenAI ``cached_tokens`` uses ``cache_read_tokens``)."""
        return self._set(usage=UsageOverride(cache_read_tokens, cache_creation_tokens))


class FakeScript:
    """The rules and settings of one fake provider, and the log of the requests it received.

    ``models``: the model names the fake accepts (glob patterns allowed); ``None`` accepts any name,
    otherwise an unknown model gets the provider's 404. ``context_window`` (tokens) and
    ``max_body_bytes`` bound the requests accepted, like the real APIs' limits.
    """

    def __init__(
        self,
        *,
        models: Iterable[str] | None = None,
        context_window: int = 128_000,
        max_body_bytes: int = 32 * 1024 * 1024,
        embedding_dimensions: int = 1536,
        max_logged_requests: int = 10_000,
    ) -> None:
        self.models = None if models is None else tuple(models)
        self.context_window = context_window
        self.max_body_bytes = max_body_bytes
        self.embedding_dimensions = embedding_dimensions
        self._rules: list[Rule] = []
        self._log: deque[FakeRequest] = deque(maxlen=max_logged_requests)
        self._lock = threading.Lock()
        self._cache_prefixes: set[int] = set()
        #: Behaviour when no rule matches; ``script.default.latency(...)`` slows every answer.
        self.default = Rule()

    def on(
        self,
        *,
        model: str | None = None,
        prompt_contains: str | None = None,
        prompt_matches: str | None = None,
        api: Api | None = None,
        when: Callable[[FakeRequest], bool] | None = None,
        times: int | None = None,
    ) -> Rule:
        """Add a rule (checked after the rules added before it) and return it for scripting.

        ``model`` is a name or glob; ``prompt_matches`` a regular expression searched in the prompt;
        ``api`` one of ``openai.chat``, ``openai.responses``, ``openai.embeddings``,
        ``anthropic.messages``; ``times`` limits how many requests the rule answers.
        """
        rule = Rule(
            model=model,
            prompt_contains=prompt_contains,
            prompt_matches=prompt_matches,
            api=api,
            when=when,
            times=times,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    @property
    def requests(self) -> list[FakeRequest]:
        """The requests received so far, oldest first (the newest ``max_logged_requests`` are kept)."""
        return list(self._log)

    def reset(self) -> None:
        """Forget every rule, logged request and prompt-cache entry."""
        with self._lock:
            self._rules.clear()
            self._log.clear()
            self._cache_prefixes.clear()
            self.default = Rule()

    def accepts_model(self, model: str) -> bool:
        """Whether ``model`` is served (always, unless ``models`` was given)."""
        if self.models is None:
            return True
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.models)

    def decide(self, request: FakeRequest) -> Behaviour:
        """Log ``request`` and return the behaviour of the first matching rule (or the default)."""
        self._log.append(request)
        with self._lock:
            for rule in self._rules:
                if rule.matches(request):
                    return rule.consume()
            return self.default.consume()

    def cache_lookup(self, prefix_hash: int) -> bool:
        """Record a cacheable prompt prefix; return whether it had been seen (a cache read)."""
        with self._lock:
            seen = prefix_hash in self._cache_prefixes
            self._cache_prefixes.add(prefix_hash)
            return seen
