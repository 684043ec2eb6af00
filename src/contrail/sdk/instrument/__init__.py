"""Opt-in instrumentation of LLM client libraries; provider modules are imported only when called."""

from __future__ import annotations


def instrument_openai() -> bool:
    """Trace calls made with the ``openai`` package (chat completions, responses, embeddings).

    Idempotent; returns False (with one warning) when ``openai`` is not installed.
    """
    from contrail.sdk.instrument.openai import instrument

    return instrument()


def instrument_anthropic() -> bool:
    """Trace calls made with the ``anthropic`` package (messages, streaming included).

    Idempotent; returns False (with one warning) when ``anthropic`` is not installed.
    """
    from contrail.sdk.instrument.anthropic import instrument

    return instrument()
