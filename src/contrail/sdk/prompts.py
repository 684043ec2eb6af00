"""``contrail.get_prompt``: prompts from the registry, cached in process, linked to generations.

Cache: per (name, label, version), for ``cache_ttl_seconds``. A hit is a dict lookup and a monotonic
clock check. After the TTL the stale prompt is returned at once and one background thread per key
refreshes it (stale-while-revalidate). When the server cannot answer, the cached prompt (however old)
or the ``fallback`` is returned; with neither, PromptUnavailableError says why.

Linking: ``prompt.compile(...)`` returns a str / list subclass that remembers the prompt, and the
OpenAI/Anthropic instrumentation records ``prompt_name``/``prompt_version`` on a generation whose
request holds such a value (the messages list, or a message content). When the compiled value is
rebuilt (f-strings, copies), wrap the call in ``with prompt.use():``; for manual spans pass
``contrail.generation(..., prompt=prompt)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from contrail.prompts.content import Content, Message, check_content, compile_content

if TYPE_CHECKING:
    import httpx

    from contrail.sdk.config import Config

_log = logging.getLogger("contrail")
_ACTIVE: contextvars.ContextVar[Prompt | None] = contextvars.ContextVar("contrail_prompt", default=None)
_MAX_ENTRIES = 10_000


class PromptUnavailableError(RuntimeError):
    """The prompt could not be fetched and there was neither a cached copy nor a fallback."""


class Prompt:
    """One prompt version as served by the registry (or a local fallback, ``is_fallback=True``)."""

    __slots__ = ("_content", "config", "is_fallback", "labels", "name", "prompt", "tags", "type", "version")

    def __init__(
        self,
        name: str,
        version: int | None,
        content: Content,
        labels: list[str] | None = None,
        tags: list[str] | None = None,
        is_fallback: bool = False,
    ) -> None:
        self.name = name
        self.version = version
        self.type = content.type
        self.prompt: str | list[Message] = content.prompt
        self.config = content.config
        self.labels = labels or []
        self.tags = tags or []
        self.is_fallback = is_fallback
        self._content = content

    @property
    def variables(self) -> list[str]:
        """Template variables, then (chat) placeholder names: what ``compile`` expects."""
        return [*self._content.variables, *self._content.placeholders]

    def compile(self, allow_extra: bool = False, **variables: Any) -> CompiledText | CompiledMessages:
        """Fill the template. Raises RenderError naming missing variables, and unknown ones unless
        ``allow_extra``. Chat placeholders take a list of ``{role, content}`` messages."""
        compiled = compile_content(self._content, variables, allow_extra=allow_extra)
        if isinstance(compiled, str):
            text = CompiledText(compiled)
            text.prompt = self
            return text
        messages = CompiledMessages(compiled)
        messages.prompt = self
        return messages

    @contextlib.contextmanager
    def use(self) -> Iterator[Prompt]:
        """Link every instrumented generation started in the block to this prompt version."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def __repr__(self) -> str:
        origin = "fallback" if self.is_fallback else f"v{self.version}"
        return f"<Prompt {self.name!r} {origin} {self.type}>"


class CompiledText(str):
    """A compiled text prompt: a str that remembers which prompt version produced it."""

    prompt: Prompt


class CompiledMessages(list[Message]):
    """Compiled chat messages: a list that remembers which prompt version produced it."""

    prompt: Prompt


def linked_prompt(*request_parts: Any) -> Prompt | None:
    """The prompt a provider request was built from: a compiled value in one of ``request_parts``
    (messages / input, system, instructions), else the one of ``prompt.use()``.

    Fallback prompts are never linked (they have no version in the registry).
    """
    found = next((p for p in map(_find_compiled, request_parts) if p is not None), None)
    if found is None:
        found = _ACTIVE.get()
    return None if found is None or found.is_fallback else found


def _find_compiled(request: Any) -> Prompt | None:
    if isinstance(request, (CompiledText, CompiledMessages)):
        return request.prompt
    if isinstance(request, dict):
        request = request.get("messages") or request.get("input") or request.get("content")
        if isinstance(request, (CompiledText, CompiledMessages)):
            return request.prompt
    if isinstance(request, list):
        for message in request:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, CompiledText):
                return content.prompt
    return None


class PromptClient:
    """The cache and fetcher behind ``get_prompt`` (one per process; tests build their own)."""

    def __init__(
        self,
        config: Callable[[], Config] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config or _tracer_config
        self._clock = clock
        self._cache: dict[tuple[str, str | None, int | None], tuple[float, Prompt]] = {}
        self._refreshing: set[tuple[str, str | None, int | None]] = set()
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    def get(
        self,
        name: str,
        label: str | None = "production",
        version: int | None = None,
        fallback: str | list[Message] | None = None,
        cache_ttl_seconds: float = 60,
    ) -> Prompt:
        """See ``get_prompt``."""
        key = (name, label, version)
        entry = self._cache.get(key)
        if entry is None or cache_ttl_seconds <= 0:
            return self._fetch_or_fallback(key, fallback, cache_ttl_seconds)
        if entry[0] <= self._clock():
            self._refresh_in_background(key, cache_ttl_seconds)
        return entry[1]

    def clear(self) -> None:
        self._cache.clear()  # in place: get_prompt's fast path holds this dict

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _fetch_or_fallback(
        self, key: tuple[str, str | None, int | None], fallback: str | list[Message] | None, ttl: float
    ) -> Prompt:
        try:
            return self._fetch(key, ttl)
        except Exception as exc:
            entry = self._cache.get(key)
            if entry is not None:
                _log.warning("Serving the cached prompt %r: %s", key[0], exc)
                return entry[1]
            if fallback is not None:
                _log.warning("Serving the fallback for prompt %r: %s", key[0], exc)
                return _fallback_prompt(key[0], fallback)
            raise PromptUnavailableError(
                f"Cannot get prompt {key[0]!r} ({exc}); pass fallback= to keep working without the server."
            ) from exc

    def _fetch(self, key: tuple[str, str | None, int | None], ttl: float) -> Prompt:
        name, label, version = key
        params: dict[str, Any] = (
            {"version": version} if version is not None else {"label": label or "production"}
        )
        config = self._config()
        auth = config.auth_header()
        response = self._client(config).get(
            f"{config.host.rstrip('/')}/api/v1/prompts/{quote(name, safe='/')}",
            params=params,
            headers={"Authorization": auth} if auth else None,
        )
        if response.status_code != 200:
            raise PromptUnavailableError(_error_text(response))
        prompt = _from_json(response.json())
        if ttl > 0:
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = (self._clock() + ttl, prompt)
        return prompt

    def _refresh_in_background(self, key: tuple[str, str | None, int | None], ttl: float) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
        threading.Thread(
            target=self._refresh, args=(key, ttl), name="contrail-prompt-refresh", daemon=True
        ).start()

    def _refresh(self, key: tuple[str, str | None, int | None], ttl: float) -> None:
        try:
            self._fetch(key, ttl)
        except Exception as exc:  # keep serving the stale copy; the next get tries again
            _log.warning("Refreshing prompt %r failed: %s", key[0], exc)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def refreshing(self) -> bool:
        """True while a background refresh runs (for tests and benchmarks)."""
        with self._lock:
            return bool(self._refreshing)

    def _client(self, config: Config) -> httpx.Client:
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=config.timeout)
        return self._http


def _tracer_config() -> Config:
    from contrail.sdk import tracer

    return tracer.current_tracer().config


def _from_json(body: dict[str, Any]) -> Prompt:
    content = check_content(body["type"], body["prompt"], body.get("config"))
    return Prompt(body["name"], int(body["version"]), content, body.get("labels"), body.get("tags"))


def _fallback_prompt(name: str, fallback: str | list[Message]) -> Prompt:
    content = check_content("text" if isinstance(fallback, str) else "chat", fallback)
    return Prompt(name, None, content, is_fallback=True)


def _error_text(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except Exception:
        message = response.text[:200]
    return f"HTTP {response.status_code}: {message}"


_CLIENT = PromptClient()
_CACHE = _CLIENT._cache
_monotonic = time.monotonic


def get_prompt(
    name: str,
    label: str | None = "production",
    version: int | None = None,
    fallback: str | list[Message] | None = None,
    cache_ttl_seconds: float = 60,
) -> Prompt:
    """The prompt ``name`` at ``version``, or the version ``label`` points at (default production).

    Uses the SDK's configured host and keys (``contrail.configure`` / ``CONTRAIL_*``). Cached for
    ``cache_ttl_seconds`` (0 disables the cache); stale copies are served while one background
    refresh runs. When the server is unreachable or answers an error: the cached copy, else
    ``fallback`` (a template string or chat messages) as a Prompt with ``is_fallback=True``, else
    PromptUnavailableError.
    """
    # The hit path, inlined: one tuple, one dict lookup, one clock read.
    entry = _CACHE.get((name, label, version))
    if entry is not None and entry[0] > _monotonic() and cache_ttl_seconds > 0:
        return entry[1]
    return _CLIENT.get(name, label, version, fallback, cache_ttl_seconds)
