"""Demo traffic: realistic traces sent through this SDK to a Contrail server (``contrail demo``).

A fake OpenAI/Anthropic provider runs in this process (a live server on 127.0.0.1, see
``contrail.local.fake``) and is driven through the real ``openai`` and ``anthropic`` clients with
Contrail's instrumentation, so the demo exercises the same code paths as a user's application:
multi-turn chat sessions for several users, a RAG pipeline, a tool-calling agent, JSON extraction
with occasional invalid JSON, streaming with time to first token, errors and retries, several
models, prompt versions and two releases, spread over the last ``days`` days.

With ``workspace=True`` (the default) the demo also creates a prompt with versions and labels (used by
the RAG traces), a dataset, two experiments and an online evaluation rule, once; see
``contrail.sdk.demo_workspace``.

With ``local=True`` chat completions are answered by the offline SmolLM2 model instead (extra
``contrail-llmops[local]``); embeddings and Anthropic calls stay on the fake provider.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import contrail
from contrail.sdk import demo_workspace
from contrail.sdk import tracer as _tracer
from contrail.sdk.config import resolve
from contrail.sdk.demo_workspace import FAQ, Workspace
from contrail.sdk.prompts import Prompt

DAY_NS = 86_400 * 10**9
USERS = ["anna", "bao", "carla", "deepak", "emeka", "fatima", "gustav", "hana"]
OPENAI_MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"]
ANTHROPIC_MODELS = ["claude-haiku-4-5", "claude-sonnet-4-6"]
EMBEDDING_MODEL = "text-embedding-3-small"
RELEASES = ("2026.11.1", "2026.11.2")
SCENARIOS = ("chat", "rag", "agent", "extract", "stream")
WEIGHTS = (0.3, 0.25, 0.2, 0.15, 0.1)
DOCS = demo_workspace.DOCS
CHAT_TURNS = [
    "Hi! Can you help me plan a trip to Lisbon?",
    "What should I pack for three days?",
    "Any food I must try?",
    "Thanks, can you summarise that in two lines?",
]


@dataclasses.dataclass
class DemoResult:
    traces: int
    failed_traces: int
    dropped: int
    # What this run added besides traces ("prompt rag-answer (3 versions)", ...); empty when all existed.
    created: list[str] = dataclasses.field(default_factory=list)
    # Why the server refused the prompt, dataset, experiments or rule (the traces were sent anyway).
    workspace_error: str | None = None


class _ShiftedClock:
    """The SDK clock for the demo: real time moved back by the offset of the trace being generated."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def __call__(self) -> int:
        return time.time_ns() - self.offset_ns


def run_demo(
    traces: int = 200,
    *,
    host: str | None = None,
    public_key: str | None = None,
    secret_key: str | None = None,
    days: int = 14,
    seed: int | None = None,
    local: bool = False,
    workspace: bool = True,
    progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Generate ``traces`` traces and export them; returns counts once everything is flushed.

    ``workspace``: also create the demo prompt, dataset, experiments and online rule where missing
    (needs a Contrail server; anything it refuses is logged and the traces are sent regardless).
    """
    rng = random.Random(seed)
    clock = _ShiftedClock()
    previous = _tracer.STATE
    failed = 0
    keys = {"host": host, "public_key": public_key, "secret_key": secret_key}
    made = demo_workspace.prepare(resolve(keys)) if workspace else None
    with _providers(rng, local) as (chat_client, embedding_client, anthropic_client):
        contrail.instrument_openai()
        contrail.instrument_anthropic()
        prompts = made.prompts if made is not None else {}
        demo = _Demo(rng, chat_client, embedding_client, anthropic_client, prompts)
        offsets = sorted((rng.uniform(0, days * DAY_NS) for _ in range(traces)), reverse=True)
        for offset in offsets:
            release = RELEASES[0] if offset > days * DAY_NS / 2 else RELEASES[1]
            _use_release(release, host, public_key, secret_key, clock)
            clock.offset_ns = int(offset)
            failed += demo.run_one()
            if progress is not None:
                progress(1)
        if made is not None:
            _evaluate(made, clock)
        dropped = _finish(previous)
    return DemoResult(
        traces=traces,
        failed_traces=failed,
        dropped=dropped,
        created=made.created if made is not None else [],
        workspace_error=made.error if made is not None else None,
    )


def _evaluate(made: Workspace, clock: _ShiftedClock) -> None:
    clock.offset_ns = 0  # experiments run now
    demo_workspace.evaluate(made)


def _use_release(
    release: str, host: str | None, public_key: str | None, secret_key: str | None, clock: _ShiftedClock
) -> None:
    current = _tracer.STATE
    if current is not None and current.config.release == release and current.now_ns is clock:
        return
    config = resolve(
        {
            "host": host,
            "public_key": public_key,
            "secret_key": secret_key,
            "release": release,
            "environment": "demo",
            "sample_rate": 1.0,
            "max_queue": 100_000,
        }
    )
    _tracer.install(config, clock=clock)


def _finish(previous: _tracer.Tracer | None) -> int:
    tracer = _tracer.STATE
    dropped = 0
    if tracer is not None and tracer.exporter is not None:
        tracer.exporter.flush(30)
        dropped = tracer.exporter.dropped
        tracer.exporter.shutdown(5)
    _tracer.STATE = previous
    return dropped


@contextlib.contextmanager
def _providers(rng: random.Random, local: bool) -> Iterator[tuple[Any, Any, Any]]:
    import anthropic
    import openai

    from contrail.local.fake import FakeScript
    from contrail.local.fake.server import FakeLLMServer

    with FakeLLMServer(_script(FakeScript(), rng)) as fake, contextlib.ExitStack() as stack:
        chat_url = fake.openai_base_url
        if local:
            chat_url = stack.enter_context(_local_model()) + "/v1"
        openai_client = openai.OpenAI(base_url=chat_url, api_key="sk-demo", max_retries=0)
        stack.callback(openai_client.close)
        embedding_client = openai.OpenAI(base_url=fake.openai_base_url, api_key="sk-demo", max_retries=0)
        stack.callback(embedding_client.close)
        anthropic_client = anthropic.Anthropic(base_url=fake.url, api_key="sk-demo", max_retries=0)
        stack.callback(anthropic_client.close)
        yield openai_client, embedding_client, anthropic_client


@contextlib.contextmanager
def _local_model() -> Iterator[str]:
    from contrail.local.endpoint import create_local_model_app
    from contrail.local.model import load_local_model
    from contrail.testing.threaded_server import ThreadedServer

    with ThreadedServer(create_local_model_app(load_local_model()), lifespan="off") as server:
        yield str(server.url)


def _script(script: Any, rng: random.Random) -> Any:
    def first_call(request: Any) -> bool:
        return not any(m.get("role") == "tool" for m in request.body.get("messages", []))

    script.on(when=lambda r: rng.random() < 0.04).error(429, "Rate limit reached", retry_after=0.01)
    script.on(when=lambda r: rng.random() < 0.02).error(500, "Internal server error")
    script.on(prompt_contains="weather", when=first_call).tool_call("get_weather", {"city": "Lisbon"})
    script.on(prompt_contains="order", when=first_call).tool_call("lookup_order", {"order_id": "A-1042"})
    script.on(prompt_contains="Extract", when=lambda r: rng.random() < 0.15).invalid_json()
    script.on(prompt_contains="Extract").json({"vendor": "ACME BV", "total": "1249.50", "currency": "EUR"})
    demo_workspace.script_answers(script)
    script.on(model="gpt-4o").latency(ttft_ms=45, tokens_per_s=900)
    script.on(model="claude-sonnet*").latency(ttft_ms=35, tokens_per_s=1200)
    script.on(model="*").latency(ttft_ms=12, tokens_per_s=3000)
    return script


class _Demo:
    """The scenarios; each method produces one trace (returns 1 when it ended in an error)."""

    def __init__(
        self,
        rng: random.Random,
        openai_client: Any,
        embedder: Any,
        anthropic_client: Any,
        prompts: dict[str, Prompt],
    ) -> None:
        self.rng = rng
        self.openai = openai_client
        self.embedder = embedder
        self.anthropic = anthropic_client
        self.prompts = prompts  # label -> registry version; the RAG answers link to them

    def run_one(self) -> int:
        scenario = self.rng.choices(SCENARIOS, WEIGHTS)[0]
        user = f"user-{self.rng.choice(USERS)}"
        try:
            getattr(self, scenario)(user)
        except Exception:  # the demo records provider failures as error traces and carries on
            return 1
        return 0

    def call_llm(self, **kwargs: Any) -> Any:
        """An OpenAI chat call with up to two retries on 429/5xx (each attempt is its own span)."""
        import openai

        for attempt in range(3):
            try:
                return self.openai.chat.completions.create(**kwargs)
            except (openai.RateLimitError, openai.InternalServerError):
                if attempt == 2:
                    raise
                contrail.update_current_span(level="warning", metadata={"retries": attempt + 1})
        raise AssertionError("unreachable")

    def chat(self, user: str) -> None:
        session = f"session-{self.rng.getrandbits(40):010x}"
        use_claude = self.rng.random() < 0.4
        model = self.rng.choice(ANTHROPIC_MODELS if use_claude else OPENAI_MODELS)
        history: list[dict[str, Any]] = []
        for turn in CHAT_TURNS[: self.rng.randint(2, 4)]:
            history.append({"role": "user", "content": turn})
            with contrail.span("chat-turn", type="chain", input=turn) as span:
                contrail.update_current_trace(user_id=user, session_id=session, tags=["chat"], name="chat")
                answer = self._claude(model, history) if use_claude else self._gpt(model, history)
                span.update(output=answer)
                history.append({"role": "assistant", "content": answer})
                if self.rng.random() < 0.3:
                    contrail.score("user_feedback", self.rng.random() < 0.8, comment="thumbs")

    def _gpt(self, model: str, history: list[dict[str, Any]]) -> str:
        reply = self.call_llm(model=model, messages=[{"role": "system", "content": "Be helpful."}, *history])
        return str(reply.choices[0].message.content or "")

    def _claude(self, model: str, history: list[dict[str, Any]]) -> str:
        reply = self.anthropic.messages.create(
            model=model, max_tokens=256, system="Be helpful.", messages=history
        )
        return "".join(getattr(block, "text", "") for block in reply.content)

    @contrail.observe(name="rag-answer", as_type="chain")
    def rag(self, user: str) -> str:
        fact = self.rng.choice(FAQ)
        question = fact.question
        contrail.update_current_trace(user_id=user, tags=["rag"], name="rag", input=question)
        self.embedder.embeddings.create(model=EMBEDDING_MODEL, input=question)
        with contrail.span("vector-search", type="retriever", input={"query": question, "k": 3}) as search:
            others = [doc for doc in DOCS if doc != fact.context]
            docs = [fact.context, *self.rng.sample(others, 2)]
            search.update(
                output=[{"text": doc, "score": round(self.rng.uniform(0.6, 0.95), 3)} for doc in docs]
            )
        with contrail.span("compose-answer", type="chain"):
            reply = self.call_llm(
                model=self.rng.choice(OPENAI_MODELS),
                messages=self._rag_messages("\n".join(docs), question),
                temperature=0.2,
            )
        answer = str(reply.choices[0].message.content or "")
        contrail.score("relevance", round(self.rng.uniform(0.4, 1.0), 2))
        contrail.update_current_trace(output=answer)
        return answer

    def _rag_messages(self, context: str, question: str) -> Any:
        """The registry's production version, or its staging one for 30% of the traffic; compiled,
        so the openai instrumentation links the generation to that version."""
        label = "staging" if self.rng.random() < 0.3 else "production"
        prompt = self.prompts.get(label) or self.prompts.get("production")
        if prompt is None:  # no workspace: the same messages, linked to nothing
            return [
                {"role": "system", "content": f"Answer from this context only:\n{context}"},
                {"role": "user", "content": question},
            ]
        return prompt.compile(allow_extra=True, context=context, question=question)

    @contrail.observe(name="support-agent", as_type="agent")
    def agent(self, user: str) -> str:
        question = self.rng.choice(["What's the weather in Lisbon?", "What is my order status for A-1042?"])
        contrail.update_current_trace(user_id=user, tags=["agent"], name="support-agent")
        tools = [_tool("get_weather", "city"), _tool("lookup_order", "order_id")]
        messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        for _ in range(3):
            reply = self.call_llm(model="gpt-4o", messages=messages, tools=tools)
            message = reply.choices[0].message
            if not message.tool_calls:
                return str(message.content or "")
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                messages.append({"role": "tool", "tool_call_id": call.id, "content": self._tool(call)})
        return "I could not finish this request."

    def _tool(self, call: Any) -> str:
        args = json.loads(call.function.arguments or "{}")
        with contrail.span(call.function.name, type="tool", input=args) as span:
            if call.function.name == "get_weather":
                result = {"city": args.get("city"), "temp_c": self.rng.randint(14, 27), "sky": "sunny"}
            else:
                result = {"order_id": args.get("order_id"), "status": self.rng.choice(["shipped", "packed"])}
            span.update(output=result)
        return json.dumps(result)

    @contrail.observe(name="extract-invoice", as_type="chain")
    def extract(self, user: str) -> dict[str, Any]:
        contrail.update_current_trace(user_id=user, tags=["extraction"], name="extract-invoice")
        contrail.update_current_span(prompt_name="invoice-extractor", prompt_version=self.rng.choice([1, 2]))
        prompt = "Extract vendor, total and currency as JSON from: ACME BV invoice, total EUR 1,249.50"
        for attempt in range(2):
            reply = self.call_llm(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": prompt}],
                response_format={"type": "json_object"},
            )
            try:
                data: dict[str, Any] = json.loads(reply.choices[0].message.content or "")
            except ValueError:
                contrail.update_current_span(
                    level="warning", status_message=f"invalid JSON (attempt {attempt + 1})"
                )
                contrail.score("valid_json", False)
                continue
            contrail.score("valid_json", True)
            return data
        raise ValueError("the model did not return valid JSON twice")

    @contrail.observe(name="stream-reply", as_type="chain")
    def stream(self, user: str) -> str:
        contrail.update_current_trace(user_id=user, tags=["streaming"], name="stream-reply")
        prompt = [{"role": "user", "content": "Write a haiku about observability."}]
        if self.rng.random() < 0.5:
            with self.anthropic.messages.stream(
                model=self.rng.choice(ANTHROPIC_MODELS), max_tokens=128, messages=prompt
            ) as stream:
                return "".join(stream.text_stream)
        chunks = self.openai.chat.completions.create(
            model=self.rng.choice(OPENAI_MODELS), messages=prompt, stream=True
        )
        return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


def _tool(name: str, argument: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {
                "type": "object",
                "properties": {argument: {"type": "string"}},
                "required": [argument],
            },
        },
    }
