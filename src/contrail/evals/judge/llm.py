"""The LLM-as-judge scorer: one chat completion per case through any OpenAI-compatible endpoint.

Calls go through the real ``openai`` client (``AsyncOpenAI`` with ``base_url``; imported on first use) with
its own retries off, so the policy is ours and bounded: up to ``max_retries`` retries on 429, 408/409,
5xx, connection errors and timeouts, waiting what the provider's ``retry-after-ms``/``retry-after`` asks
(capped at ``backoff_max_s``) or else an exponential backoff with jitter. Each attempt has a hard
``timeout_s``. An answer that cannot be read is re-asked once with a stricter instruction; if it still
cannot be read the result is an error carrying the raw answer. Concurrency is bounded by a semaphore the
caller may share between judges.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from contrail.evals.base import EvalCase, ScoreResult
from contrail.evals.judge.parsing import Judgement, JudgeParseError, parse_judgement
from contrail.evals.judge.rubrics import SYSTEM_PROMPT, Rubric, stricter_prompt, user_prompt

logger = logging.getLogger(__name__)

_OPENAI_HINT = (
    "The LLM judge needs the openai client: pip install 'contrail-llmops[demo]' (or pip install openai)"
)
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_LOCAL_HOSTS = ("http://127.0.0.1", "http://localhost", "http://[::1]")


class JudgeCallError(Exception):
    """The provider could not be asked (after retries, or a non-retryable error)."""


@dataclass
class LLMJudge:
    """A Scorer asking ``model`` to grade each case on ``rubric``.

    Give ``client`` (an ``openai.AsyncOpenAI``) to reuse a client, or ``base_url`` and ``api_key`` to
    build one per event loop. ``semaphore`` bounds concurrent calls across judges that share it; without
    one each judge allows ``concurrency`` calls at a time. ``threshold`` (0..1) sets ``passed`` for
    numeric rubrics; binary rubrics pass when the verdict is the good one.
    """

    rubric: Rubric
    model: str
    name: str = ""
    base_url: str | None = None
    api_key: str | None = None
    client: Any = None
    timeout_s: float = 30.0
    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    concurrency: int = 8
    semaphore: asyncio.Semaphore | None = None
    temperature: float = 0.0
    max_tokens: int = 400
    threshold: float | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: Callable[[], float] = random.random
    _loop_state: tuple[Any, Any, asyncio.Semaphore] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or self.rubric.name
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if not 0 <= self.max_retries <= 10:
            raise ValueError("max_retries must be between 0 and 10")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be between 0 and 1")

    async def aclose(self) -> None:
        """Close the client this judge created (a client passed in stays open); call when done scoring."""
        state, self._loop_state = self._loop_state, None
        if state is not None and self.client is None:
            await state[1].close()

    async def __aenter__(self) -> LLMJudge:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def score(self, case: EvalCase) -> ScoreResult:
        missing = self._missing_material(case)
        if missing:
            return ScoreResult(name=self.name, error=missing)
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user_prompt(self.rubric, case)},
        ]
        calls = 0
        try:
            text, attempts = await self._complete(messages)
            calls += attempts
            try:
                return self._result(parse_judgement(text, self.rubric), text, calls, reasked=False)
            except JudgeParseError as err:
                first_problem = str(err)
            messages += [
                {"role": "assistant", "content": text or ""},
                {"role": "user", "content": stricter_prompt(self.rubric, first_problem)},
            ]
            text, attempts = await self._complete(messages)
            calls += attempts
            try:
                return self._result(parse_judgement(text, self.rubric), text, calls, reasked=True)
            except JudgeParseError as err:
                error = f"could not read the judge's answer, even after asking again: {err}"
                return ScoreResult(
                    name=self.name, error=error, raw=text, metadata=self._metadata(calls, True)
                )
        except JudgeCallError as err:
            return ScoreResult(name=self.name, error=str(err), metadata=self._metadata(calls, False))
        except Exception as err:
            # Anything else is a bug on our side or the client's: one error result, not a failed experiment.
            logger.warning("judge %r failed unexpectedly", self.name, exc_info=True)
            return ScoreResult(name=self.name, error=f"{type(err).__name__}: {err}")

    def _missing_material(self, case: EvalCase) -> str | None:
        if case.output is None:
            return "no output to judge"
        if self.rubric.needs_expected and case.expected is None:
            return f"the {self.rubric.name} rubric needs an expected output (reference answer)"
        if self.rubric.needs_context and not case.context:
            return f"the {self.rubric.name} rubric needs the retrieved context"
        return None

    def _metadata(self, calls: int, reasked: bool) -> dict[str, Any]:
        return {"judge_model": self.model, "rubric": self.rubric.name, "calls": calls, "reasked": reasked}

    def _result(self, judgement: Judgement, raw: str | None, calls: int, *, reasked: bool) -> ScoreResult:
        if self.rubric.binary:
            passed: bool | None = judgement.value == 1.0
        else:
            passed = None if self.threshold is None else judgement.value >= self.threshold
        return ScoreResult(
            name=self.name,
            value=judgement.value,
            label=judgement.label,
            passed=passed,
            reason=judgement.reasoning,
            raw=raw,
            metadata=self._metadata(calls, reasked),
        )

    # --- calling the provider ---------------------------------------------------------------------

    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str | None, int]:
        """The answer's text and how many attempts it took; JudgeCallError when it cannot be had."""
        client, semaphore = self._for_this_loop()
        last_problem = "no attempt made"
        for attempt in range(self.max_retries + 1):
            try:
                async with semaphore:
                    response = await asyncio.wait_for(self._create(client, messages), self.timeout_s)
                return _content(response), attempt + 1
            except Exception as err:
                retryable, problem, wait = self._classify(err)
                if not retryable:
                    raise JudgeCallError(problem) from None
                last_problem = problem
                if attempt == self.max_retries:
                    break
                delay = wait if wait is not None else self._backoff(attempt)
                logger.info("judge %r: %s; retrying in %.2f s", self.name, problem, delay)
                await self.sleep(delay)
        raise JudgeCallError(f"the judge failed after {self.max_retries + 1} attempts: {last_problem}")

    async def _create(self, client: Any, messages: list[dict[str, str]]) -> Any:
        return await client.chat.completions.create(
            model=self.model,
            messages=messages,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            timeout=self.timeout_s,
        )

    def _classify(self, err: Exception) -> tuple[bool, str, float | None]:
        """(retry?, what happened, seconds the provider asked us to wait)."""
        import openai

        if isinstance(err, (asyncio.TimeoutError, openai.APITimeoutError)):
            return True, f"no answer within {self.timeout_s:g} s", None
        if isinstance(err, openai.APIStatusError):
            status = err.status_code
            problem = f"the provider answered {status}: {_short(err.message)}"
            retryable = status in _RETRYABLE_STATUS or status >= 500
            return (
                retryable,
                problem,
                _retry_after(err.response.headers, self.backoff_max_s) if retryable else None,
            )
        if isinstance(err, openai.APIConnectionError):
            return (
                True,
                f"cannot reach the judge at {self.base_url or 'the configured endpoint'} ({err})",
                None,
            )
        if isinstance(err, openai.OpenAIError):
            return False, f"the judge's client failed: {err}", None
        raise err

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0**attempt)
        return ceiling / 2 + self.jitter() * ceiling / 2

    def _for_this_loop(self) -> tuple[Any, asyncio.Semaphore]:
        """The client and semaphore for the running event loop (an asyncio object cannot cross loops)."""
        loop = asyncio.get_running_loop()
        if self._loop_state is None or self._loop_state[0] is not loop:
            client = self.client if self.client is not None else self._new_client()
            self._loop_state = (loop, client, self.semaphore or asyncio.Semaphore(self.concurrency))
        return self._loop_state[1], self._loop_state[2]

    def _new_client(self) -> Any:
        try:
            import openai
        except ImportError as err:
            raise JudgeCallError(f"{_OPENAI_HINT} ({err})") from None
        api_key = self.api_key
        if api_key is None and (self.base_url or "").startswith(_LOCAL_HOSTS):
            api_key = "local"  # local endpoints (contrail local serve, the fake provider) need no key
        try:
            return openai.AsyncOpenAI(base_url=self.base_url, api_key=api_key, max_retries=0)
        except openai.OpenAIError as err:
            raise JudgeCallError(f"cannot create the judge's client: {err}") from None


def _content(response: Any) -> str | None:
    choices = getattr(response, "choices", None) or []
    if not choices:
        return None
    content = choices[0].message.content
    return content if isinstance(content, str) else None


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[:limit] + "…"


def _retry_after(headers: Any, cap: float) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date), capped; None if absent."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return min(cap, max(0.0, float(raw_ms) / 1000))
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return min(cap, max(0.0, float(raw)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return None
    return min(cap, max(0.0, when - time.time()))
