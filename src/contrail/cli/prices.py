"""`contrail prices ...`: list the price catalogue, explain a model match, validate an override file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import click

from contrail.analytics.catalogue import PriceCatalogue, default_catalogue, load_catalogue_file
from contrail.analytics.price_file import PriceFileError, load_price_file
from contrail.analytics.prices import PriceEntry, PricePeriod, Rates, Unit

_FILE_HELP = "Override file (JSON) layered over the built-in catalogue."


@click.group("prices")
def prices_group() -> None:
    """Model prices used to compute cost at ingest."""


@prices_group.command("list")
@click.option("--provider", default=None, help="Only this provider (openai, anthropic, google, bedrock...).")
@click.option("--search", "text", default=None, help="Only models whose name or alias contains this.")
@click.option("--file", "path", default=None, type=click.Path(dir_okay=False), help=_FILE_HELP)
def list_command(provider: str | None, text: str | None, path: str | None) -> None:
    """List current prices in USD per million tokens (or per unit)."""
    from contrail.cli.output import print_table

    rows = [_row(entry) for entry in _catalogue(path).search(provider, text)]
    columns = ("provider", "model", "input", "output", "cached in", "cache write", "unit", "since")
    print_table("Prices", columns, rows)


@prices_group.command("show")
@click.argument("model")
@click.option("--provider", default=None, help="The observation's provider (a hint, e.g. azure, groq).")
@click.option("--at", "at", default=None, help="Price valid at this date (YYYY-MM-DD, UTC); default now.")
@click.option("--file", "path", default=None, type=click.Path(dir_okay=False), help=_FILE_HELP)
def show_command(model: str, provider: str | None, at: str | None, path: str | None) -> None:
    """Show which catalogue entry prices MODEL, why, and its prices."""
    at_us = _parse_at(at)
    found, trace = _catalogue(path).explain(model, provider)
    for line in trace:
        click.echo(f"  tried {line}")
    if found is None:
        raise click.ClickException(
            f"No price for {model!r}: observations with this model stay unpriced (cost empty, marked "
            "'unpriced'). Add it to an override file (see docs/pricing.md) or check the spelling."
        )
    entry = found.entry
    period, before_first = entry.period_at(at_us)
    click.echo(found.explain())
    click.echo(f"Entry: {entry.key}  mode={entry.mode.value}  unit={entry.unit.value}  origin={entry.origin}")
    if entry.aliases:
        click.echo(f"Aliases: {', '.join(entry.aliases)}")
    click.echo(f"Source: {entry.source or '(none)'}")
    if entry.note:
        click.echo(f"Note: {entry.note}")
    for line in _period_lines(entry, period, before_first):
        click.echo(line)


@prices_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def check_command(path: str) -> None:
    """Validate a price override FILE; nothing is applied anywhere. Exit 1 listing every problem."""
    try:
        entries = load_price_file(path)
    except PriceFileError as exc:
        raise click.ClickException(str(exc)) from exc
    providers = sorted({entry.provider for entry in entries})
    periods = sum(len(entry.periods) for entry in entries)
    click.echo(f"OK: {len(entries)} entries, {periods} price periods, providers: {', '.join(providers)}")


def _catalogue(path: str | None) -> PriceCatalogue:
    if path is None:
        return default_catalogue()
    try:
        return load_catalogue_file(path)
    except PriceFileError as exc:
        raise click.ClickException(str(exc)) from exc


def _parse_at(at: str | None) -> int:
    if at is None:
        return int(dt.datetime.now(dt.timezone.utc).timestamp() * 1_000_000)
    try:
        day = dt.date.fromisoformat(at)
    except ValueError as exc:
        raise click.BadParameter(f"{at!r} is not a date; use YYYY-MM-DD", param_hint="--at") from exc
    moment = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    return int(moment.timestamp()) * 1_000_000


def _row(entry: PriceEntry) -> tuple[str, ...]:
    period = entry.current()
    if entry.unit is Unit.TOKEN:
        rates = period.rates
        prices = (
            _money(rates.input),
            _money(rates.output),
            _money(rates.cached_input),
            _money(rates.cache_write),
        )
        unit = "1M tokens"
    else:
        prices = (_money(period.per_unit), "", "", "")
        unit = entry.unit.value
    return (entry.provider, entry.model, *prices, unit, period.effective)


def _period_lines(entry: PriceEntry, period: PricePeriod, before_first: bool) -> list[str]:
    when = f"Prices since {period.effective}"
    if before_first:
        when += " (the date asked predates every known price; the earliest is used)"
    lines = [when + ", USD" + (" per million tokens:" if entry.unit is Unit.TOKEN else ":")]
    if entry.unit is not Unit.TOKEN:
        lines.append(f"  per {entry.unit.value}: {_money(period.per_unit)}")
    lines.extend(_rate_lines(period.rates, "  "))
    if period.per_request is not None:
        lines.append(f"  per request: {_money(period.per_request)}")
    for tier in period.tiers:
        lines.append(f"  prompts above {tier.above:,} tokens (whole request):")
        lines.extend(_rate_lines(tier.rates, "    "))
    if period.fine_tuned is not None:
        lines.append("  fine-tuned models:")
        lines.extend(_rate_lines(period.fine_tuned, "    "))
    if len(entry.periods) > 1:
        history = ", ".join(p.effective for p in entry.periods)
        lines.append(f"Price history: {history}")
    return lines


def _rate_lines(rates: Rates, indent: str) -> list[str]:
    names = (
        ("input", rates.input),
        ("output", rates.output),
        ("cached input", rates.cached_input),
        ("cache write (5m)", rates.cache_write),
        ("cache write (1h)", rates.cache_write_1h),
        ("reasoning", rates.reasoning),
        ("audio input", rates.audio_input),
        ("audio output", rates.audio_output),
    )
    return [f"{indent}{name}: {_money(value)}" for name, value in names if value is not None]


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"
