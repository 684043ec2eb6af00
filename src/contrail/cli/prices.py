"""`contrail prices ...`: list the price catalogue, explain a model match, validate an override file,
import overrides into a project and re-price stored observations.

``import`` and ``recalculate`` work on the database directly (``--db`` / CONTRAIL_DATABASE_URL, like
``contrail traces``); running servers pick the change up within a second (docs/pricing.md).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import click

from contrail.analytics.catalogue import PriceCatalogue, default_catalogue, load_catalogue_file
from contrail.analytics.price_file import PriceFileError, load_price_file
from contrail.analytics.prices import PriceEntry, PricePeriod, Rates, Unit
from contrail.cli.context import CliState, pass_state
from contrail.cli.traces import project_option

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


@prices_group.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@project_option
@pass_state
def import_command(state: CliState, /, path: str, project: str) -> None:
    """Add the entries of override FILE to a project's prices (replacing the same provider/model).

    All or nothing: a file with any problem changes nothing and every problem is listed.
    """
    from contrail.analytics import overrides

    try:
        load_price_file(path)  # size limit and readable file, before touching the database
        with open(path, "rb") as handle:
            document = overrides.parse_document_text(handle.read(), origin=path)
        engine = state.engine()
        result = overrides.put_overrides(engine, state.project_id(engine, project), document, origin=path)
    except PriceFileError as exc:
        raise click.ClickException(f"{exc}\nNothing was imported.") from exc
    click.echo(
        f"Imported into {project!r}: {len(result.added)} added, {len(result.replaced)} replaced "
        f"(version {result.version}). Past observations keep their cost until "
        "`contrail prices recalculate`."
    )


@prices_group.command("recalculate")
@click.option("--start", required=True, help="Observations starting at or after this RFC 3339 time.")
@click.option("--end", required=True, help="...and before this one (at most 366 days later).")
@click.option("--model", "models", multiple=True, help="Only this model (repeat for several).")
@project_option
@pass_state
def recalculate_command(
    state: CliState, /, start: str, end: str, models: tuple[str, ...], project: str
) -> None:
    """Re-price stored observations of a time range with the project's current prices."""
    from contrail.analytics import overrides, recalculate
    from contrail.schema.timeconv import rfc3339_to_us

    times = []
    for name, value in (("--start", start), ("--end", end)):
        try:
            times.append(rfc3339_to_us(value))
        except (ValueError, OverflowError) as exc:
            raise click.BadParameter(f"{value!r} is not an RFC 3339 time", param_hint=name) from exc
    try:
        recalculate.check_range(times[0], times[1], list(models) or None)
    except recalculate.RecalculateError as exc:
        raise click.ClickException(str(exc)) from exc
    engine = state.engine()
    project_id = state.project_id(engine, project)
    _, stored = overrides.list_overrides(engine, project_id)
    catalogue = overrides.project_catalogue(o.entry for o in stored)
    result = recalculate.recalculate(engine, project_id, catalogue, times[0], times[1], list(models) or None)
    for key, value in result.as_dict().items():
        click.echo(f"{key}: {value}")


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
