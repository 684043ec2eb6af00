"""``contrail local``: serve the offline SmolLM2 model as an OpenAI-compatible endpoint."""

from __future__ import annotations

import click


@click.group("local")
def local_group() -> None:
    """A real small language model running offline (extra: contrail-llmops[local])."""


@local_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8766, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--n-ctx", default=2048, show_default=True, type=click.IntRange(256), help="Context size.")
def serve(host: str, port: int, n_ctx: int) -> None:
    """Serve SmolLM2-135M-Instruct at http://HOST:PORT/v1 (any model name is answered by it)."""
    from contrail.local.model import LocalModelUnavailable, load_local_model

    try:
        model = load_local_model(n_ctx=n_ctx)
    except LocalModelUnavailable as err:
        raise click.ClickException(str(err)) from err
    from contrail.local.endpoint import serve_forever

    click.echo(f"Local model (SmolLM2-135M-Instruct) on http://{host}:{port}/v1")
    serve_forever(model, host=host, port=port)
