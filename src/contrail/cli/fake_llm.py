"""``contrail fake-llm``: run the scripted fake OpenAI/Anthropic provider from the shell."""

from __future__ import annotations

import click


@click.group("fake-llm")
def fake_llm_group() -> None:
    """A fake OpenAI/Anthropic-compatible provider for offline demos and tests."""


@fake_llm_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--model", "models", multiple=True, help="Accept only this model name or glob (repeatable).")
@click.option("--ttft-ms", default=0.0, type=click.FloatRange(0), help="Delay before the first token.")
@click.option("--tokens-per-s", default=None, type=click.FloatRange(0, min_open=True), help="Token rate.")
def serve(host: str, port: int, models: tuple[str, ...], ttft_ms: float, tokens_per_s: float | None) -> None:
    """Serve the fake provider (echoes the last user message unless scripted) until interrupted.

    OpenAI clients use base_url http://HOST:PORT/v1, Anthropic clients http://HOST:PORT.
    """
    try:
        from contrail.local.fake.server import serve_forever
    except ImportError as err:
        raise click.ClickException(
            f"{err}. Install the server extra: pip install 'contrail-llmops[server]'"
        ) from err
    click.echo(f"Fake LLM provider on http://{host}:{port}  (OpenAI base_url: http://{host}:{port}/v1)")
    serve_forever(host=host, port=port, models=models or None, ttft_ms=ttft_ms, tokens_per_s=tokens_per_s)
