"""The demo's workspace: a prompt with versions and labels, a dataset, two experiments and an online rule.

Everything is created over the server's HTTP API with the clients ``contrail prompts`` and
``contrail eval`` use, and only once: whatever already exists under a demo name is left as it is, so
running the demo again adds traces but no prompt version, dataset version, experiment or rule.

The story: a support bot answers questions from retrieved documents with the prompt ``rag-answer``.
Version 2 is in production and version 3 (shorter answers) in staging; the demo's RAG traces use both,
so the prompt page shows calls, latency and cost per version. The dataset ``support/faq`` holds the
questions with their expected answers, and two experiments run both versions over it on the fake
provider, answering in this process (no socket, no network). The staging version wins on exact
answers and regresses on two items, which the comparison page lists.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import httpx

from contrail.evals.client import EvalsApiError, EvalsClient
from contrail.prompts.remote import RegistryClient, RemoteError
from contrail.sdk.prompts import Prompt, PromptClient, PromptUnavailableError

if TYPE_CHECKING:
    from contrail.local.fake import FakeScript
    from contrail.sdk.config import Config

logger = logging.getLogger(__name__)

PROMPT = "rag-answer"
DATASET = "support/faq"
RULE = "rag-latency"
MODEL = "gpt-4o-mini"
LABELS = ("production", "staging")
# The staging version asks for this; the fake provider then answers with the short phrase.
TERSE = "the shortest exact phrase"
SCORERS: tuple[dict[str, Any], ...] = (
    {"type": "exact", "case_sensitive": False},
    {"type": "contains", "case_sensitive": False},
    {"type": "token_overlap"},
)


@dataclasses.dataclass(frozen=True, slots=True)
class Fact:
    """A question, the document that answers it and the expected answer. ``terse`` and ``wordy`` are
    what the fake model answers for the short and the long prompt when that is not the expected
    answer and the document's sentence respectively (the demo's deliberate mistakes)."""

    question: str
    context: str
    answer: str
    terse: str | None = None
    wordy: str | None = None


_REFUNDS = "Refunds are processed within 5 business days after the returned item arrives."
_PRO = "The Pro plan includes 1M traced spans per month and 90 days of retention."
_SHIPPING = "Orders ship from Rotterdam; delivery to the EU takes 2-4 days."
_KEYS = "API keys are created per project; the secret key is shown once."
_DATABASE = "Contrail stores traces in SQLite by default and PostgreSQL when CONTRAIL_DATABASE_URL is set."
_INVOICES = "Invoices are available on the Business plan, paid by bank transfer within 30 days."
_SUPPORT = "Support answers Monday to Friday, 9:00-17:00 CET, and within 4 hours on the Business plan."
_RESET = "Reset a password with 'Forgot password' on the sign-in page; the link is valid for 1 hour."

FAQ: tuple[Fact, ...] = (
    Fact("How long do refunds take?", _REFUNDS, "5 business days", terse="5 days"),
    Fact("What does the Pro plan include?", _PRO, "1M traced spans per month", terse="1M spans"),
    Fact("How long does the Pro plan keep data?", _PRO, "90 days"),
    Fact("Where do orders ship from?", _SHIPPING, "Rotterdam"),
    Fact("How long does delivery to the EU take?", _SHIPPING, "2-4 days"),
    Fact("How many times is a secret key shown?", _KEYS, "once"),
    Fact("Are API keys per user or per project?", _KEYS, "per project"),
    Fact("Which database does Contrail use by default?", _DATABASE, "SQLite"),
    Fact(
        "Which variable switches Contrail to PostgreSQL?",
        _DATABASE,
        "CONTRAIL_DATABASE_URL",
        wordy="Set the database URL in the settings.",
    ),
    Fact("Which plan offers invoices?", _INVOICES, "the Business plan"),
    Fact("How long do I have to pay an invoice?", _INVOICES, "30 days"),
    Fact("When does support answer?", _SUPPORT, "Monday to Friday, 9:00-17:00 CET"),
    Fact("How long is a password reset link valid?", _RESET, "1 hour"),
    Fact("Where do I reset my password?", _RESET, "on the sign-in page"),
)
DOCS = tuple(dict.fromkeys(fact.context for fact in FAQ))


def _chat(system: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": "{{question}}"}]


# Versions in the order they are created (1, 2, 3) with the labels each takes.
VERSIONS: tuple[tuple[list[dict[str, str]], str, tuple[str, ...]], ...] = (
    (_chat("You are a support assistant. Context:\n{{context}}"), "First version", ()),
    (
        _chat("Answer from this context only:\n{{context}}"),
        "Answer from the retrieved context only",
        ("production",),
    ),
    (
        _chat(f"Answer from this context only, with {TERSE} that answers the question:\n{{{{context}}}}"),
        "Shorter answers: the exact phrase, no sentence",
        ("staging",),
    ),
)


def script_answers(script: FakeScript) -> None:
    """Teach the fake provider the FAQ: the short phrase for the staging prompt, the document's
    sentence otherwise (each fact's deliberate mistake instead, where it has one)."""
    for fact in FAQ:
        script.on(prompt_contains=fact.question, when=lambda r: TERSE in r.prompt).respond(
            fact.terse or fact.answer
        ).latency(ttft_ms=15, tokens_per_s=2000)
        script.on(prompt_contains=fact.question).respond(fact.wordy or fact.context).latency(
            ttft_ms=25, tokens_per_s=1200
        )


@dataclasses.dataclass
class Workspace:
    """What the demo made (``created``, for its report), the prompt versions its traces use, and why
    the server refused (``error``; then nothing more is attempted)."""

    config: Config
    created: list[str] = dataclasses.field(default_factory=list)
    prompts: dict[str, Prompt] = dataclasses.field(default_factory=dict)
    error: str | None = None


def prepare(config: Config) -> Workspace:
    """Before the traces: the online rule (it scores only traces that arrive after it) and the prompt
    versions; returns the versions the labels point at. A server that refuses is logged, not raised:
    the traces are still worth sending."""
    workspace = Workspace(config)
    auth = config.auth_header()
    headers = {"Authorization": auth} if auth else {}
    try:
        with httpx.Client(base_url=config.host, headers=headers, timeout=config.timeout) as http:
            if _ensure_rule(http):
                workspace.created.append(f"online rule {RULE}")
        registry = RegistryClient(config.host, auth, timeout=config.timeout)
        try:
            if _ensure_prompt(registry):
                workspace.created.append(f"prompt {PROMPT} ({len(VERSIONS)} versions)")
        finally:
            registry.close()
    except (httpx.HTTPError, RemoteError) as exc:
        workspace.error = f"{type(exc).__name__}: {exc}"
        logger.warning("Demo: could not create the online rule and prompt (%s); sending traces only", exc)
        return workspace
    workspace.prompts = _labelled(config)
    return workspace


def _ensure_rule(http: httpx.Client) -> bool:
    listed = http.get("/api/v1/eval-rules")
    listed.raise_for_status()
    if any(rule.get("name") == RULE for rule in listed.json()["data"]):
        return False
    rule = {
        "name": RULE,
        "filter": {"name": "rag"},
        "sampling_percent": 50,
        "scorer": {"type": "latency", "max_seconds": 2},
    }
    http.post("/api/v1/eval-rules", json=rule).raise_for_status()
    return True


def _ensure_prompt(registry: RegistryClient) -> bool:
    if registry.latest(PROMPT) is not None:
        return False
    for messages, commit_message, labels in VERSIONS:
        registry.create(
            {
                "name": PROMPT,
                "type": "chat",
                "prompt": messages,
                "config": {"model": MODEL, "temperature": 0.2},
                "labels": list(labels),
                "tags": ["demo", "support"],
                "commit_message": commit_message,
            }
        )
    return True


def _labelled(config: Config) -> dict[str, Prompt]:
    """The versions the labels point at now (a label someone removed is skipped)."""
    client = PromptClient(config=lambda: config)
    found = {}
    try:
        for label in LABELS:
            try:
                found[label] = client.get(PROMPT, label=label, cache_ttl_seconds=0)
            except PromptUnavailableError as exc:
                logger.info("Demo: prompt %s has no usable %s version (%s)", PROMPT, label, exc)
    finally:
        client.close()
    return found


def evaluate(workspace: Workspace) -> None:
    """After the traces: the dataset and one experiment per labelled prompt version on it (from
    inside a sampled tracer's reach, so each item is a trace). Refusals are logged, not raised."""
    if workspace.error is not None:
        return
    try:
        workspace.created += asyncio.run(_evaluate(workspace.config, workspace.prompts))
    except (EvalsApiError, httpx.HTTPError) as exc:
        workspace.error = f"{type(exc).__name__}: {exc}"
        logger.warning("Demo: could not create the dataset and experiments (%s)", exc)


async def _evaluate(config: Config, prompts: dict[str, Prompt]) -> list[str]:
    created = []
    async with EvalsClient(config.host, secret_key=config.secret_key, public_key=config.public_key) as client:
        if await _ensure_dataset(client):
            created.append(f"dataset {DATASET} ({len(FAQ)} items)")
        existing = {e["name"] for e in await client.list_experiments(DATASET)}
        for label, prompt in prompts.items():
            name = f"{PROMPT} v{prompt.version} ({label})"
            if name not in existing:
                await _experiment(client, name, label, prompt)
                created.append(f"experiment {name}")
    return created


async def _ensure_dataset(client: EvalsClient) -> bool:
    try:
        await client.get_dataset(DATASET)
        return False
    except EvalsApiError as exc:
        if exc.status != 404:
            raise
    await client.create_dataset(DATASET, description="Support questions with hand-checked answers (demo).")
    items = [
        {
            "id": f"faq-{number:02d}",
            "input": {"question": fact.question, "context": fact.context},
            "expected_output": fact.answer,
        }
        for number, fact in enumerate(FAQ, 1)
    ]
    await client.upsert_items(DATASET, items)
    return True


async def _experiment(client: EvalsClient, name: str, label: str, prompt: Prompt) -> None:
    import httpx2
    import openai

    from contrail.evals.runner import arun_experiment
    from contrail.evals.targets import ModelTarget, RetryPolicy
    from contrail.local.fake import FakeScript, create_fake_llm_app

    script = FakeScript()
    script_answers(script)
    transport = httpx2.ASGITransport(app=create_fake_llm_app(script))
    provider = openai.AsyncOpenAI(
        base_url="http://fake-llm/v1",
        api_key="sk-demo",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    )
    target = ModelTarget(model=MODEL, prompt=prompt, base_url="http://fake-llm/v1", client=provider)
    await arun_experiment(
        DATASET,
        target,
        SCORERS,
        name=name,
        backend=client,
        description=f"Prompt {PROMPT} v{prompt.version} ({label}) on {MODEL}, fake provider (demo).",
        metadata={"prompt": PROMPT, "prompt_version": prompt.version, "label": label},
        cache=False,
        progress=False,
        retry=RetryPolicy(max_retries=2, base_delay_s=0.05),
    )
