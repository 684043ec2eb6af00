"""``contrail demo``: fill a Contrail server with realistic demo traces (thin wrapper of run_demo)."""

from __future__ import annotations

import click


@click.command("demo")
@click.option("--traces", default=200, show_default=True, type=click.IntRange(1), help="Traces to generate.")
@click.option("--host", default=None, help="Contrail server URL (default: CONTRAIL_HOST or the local one).")
@click.option("--public-key", default=None, help="Project public key (default: CONTRAIL_PUBLIC_KEY).")
@click.option("--secret-key", default=None, help="Project secret key (default: CONTRAIL_SECRET_KEY).")
@click.option(
    "--days", default=14, show_default=True, type=click.IntRange(1), help="Spread traces over N days."
)
@click.option("--seed", default=None, type=int, help="Random seed for reproducible data.")
@click.option("--local", is_flag=True, help="Answer chat calls with the offline SmolLM2 model.")
@click.option(
    "--traces-only", is_flag=True, help="Skip the demo prompt, dataset, experiments and online rule."
)
def demo_command(
    traces: int,
    host: str | None,
    public_key: str | None,
    secret_key: str | None,
    days: int,
    seed: int | None,
    local: bool,
    traces_only: bool,
) -> None:
    """Generate chat sessions, RAG, agent, extraction and streaming traces through the SDK.

    Also creates, where missing, a prompt with three versions (production and staging labels, used
    by the RAG traces), a dataset, two experiments comparing the prompt's versions and an online
    evaluation rule; running the demo again adds traces only. Uses an in-process fake
    OpenAI/Anthropic provider (needs the server extra), so no API key or network access is required.
    """
    try:
        from contrail.sdk.demo import run_demo
    except ImportError as err:
        raise click.ClickException(f"{err}. Install: pip install 'contrail-llmops[server]'") from err
    with click.progressbar(length=traces, label="Generating demo traces") as bar:
        try:
            result = run_demo(
                traces,
                host=host,
                public_key=public_key,
                secret_key=secret_key,
                days=days,
                seed=seed,
                local=local,
                workspace=not traces_only,
                progress=bar.update,
            )
        except ImportError as err:
            raise click.ClickException(str(err)) from err
    click.echo(
        f"Sent {result.traces} traces ({result.failed_traces} ending in an error, by design)"
        + (f"; {result.dropped} observations dropped: is the server reachable?" if result.dropped else ".")
    )
    if result.created:
        click.echo("Created " + ", ".join(result.created) + ".")
    if result.workspace_error:
        click.echo(f"No demo prompt, dataset, experiments or online rule: {result.workspace_error}")
    elif not result.created and not traces_only:
        click.echo("The demo prompt, dataset, experiments and online rule were there already.")
