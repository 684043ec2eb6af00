"""`contrail traces list|show` and `contrail export`."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO, Any

import click
import orjson

from contrail.cli.context import CliState, pass_state
from contrail.cli.output import print_table

project_option = click.option("--project", default="default", show_default=True, help="Project name or id.")


def filter_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--since", default=None, help="Start at or after this RFC 3339 time."),
            click.option("--until", default=None, help="Start before this RFC 3339 time."),
            click.option("--name", default=None),
            click.option("--user", "user_id", default=None),
            click.option("--session", "session_id", default=None),
            click.option("--tag", "tags", multiple=True),
            click.option("--model", default=None),
            click.option("--errors", "has_error", is_flag=True, default=None, help="Only with errors."),
            click.option("--search", "-q", default=None, help="Full-text search."),
        ]
    ):
        command = option(command)
    return command


def build_filter(**values: Any) -> Any:
    from contrail.schema.timeconv import rfc3339_to_us
    from contrail.store.filters import Filter

    times: dict[str, Any] = {}
    for key, field in (("since", "start_from_us"), ("until", "start_to_us")):
        if values.get(key):
            try:
                times[field] = rfc3339_to_us(values[key])
            except ValueError as exc:
                raise click.BadParameter(
                    f"{values[key]!r} is not an RFC 3339 time", param_hint=f"--{key}"
                ) from exc
    return Filter(
        name=values.get("name"),
        user_id=values.get("user_id"),
        session_id=values.get("session_id"),
        tags=list(values.get("tags") or []),
        model=values.get("model"),
        has_error=values.get("has_error"),
        search=values.get("search"),
        **times,
    )


@click.group("traces")
def traces_group() -> None:
    """Look at traces from the terminal."""


@traces_group.command("list")
@project_option
@filter_options
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@pass_state
def list_command(state: CliState, /, project: str, limit: int, **filters: Any) -> None:
    """The newest traces."""
    from contrail.store.queries import list_traces

    engine = state.engine()
    page = list_traces(engine, state.project_id(engine, project), build_filter(**filters), limit=limit)
    rows = [
        (
            t["start_time"],
            t["trace_id"],
            t["name"],
            t["user_id"],
            _ms(t["latency_ms"]),
            t["total_tokens"],
            t["total_cost_usd"],
            "error" if t["error_count"] else "ok",
        )
        for t in page.items
    ]
    print_table(
        "Traces", ("start", "trace id", "name", "user", "latency", "tokens", "cost $", "status"), rows
    )


@traces_group.command("show")
@click.argument("trace_id")
@project_option
@pass_state
def show_command(state: CliState, trace_id: str, project: str) -> None:
    """One trace as a tree of observations."""
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    from contrail.store.queries import get_trace

    engine = state.engine()
    trace = get_trace(engine, state.project_id(engine, project), trace_id.lower())
    if trace is None:
        raise click.ClickException(f"No trace {trace_id} in project {project}.")
    header = (
        f"[bold]{escape(trace['name'] or '(unnamed)')}[/] {trace['trace_id']} · {_ms(trace['latency_ms'])}"
    )
    tree = Tree(header + f" · {trace['total_tokens']} tokens · ${trace['total_cost_usd']}")
    children: dict[str | None, list[dict[str, Any]]] = {}
    known = {o["span_id"] for o in trace["observations"]}
    for obs in trace["observations"]:
        parent = obs["parent_span_id"] if obs["parent_span_id"] in known else None
        children.setdefault(parent, []).append(obs)
    _grow(tree, children, None)
    Console().print(tree)


def _grow(node: Any, children: dict[str | None, list[dict[str, Any]]], parent: str | None) -> None:
    from rich.markup import escape

    for obs in children.get(parent, []):
        status = " [red]error[/]" if obs["level"] == "error" or obs["status"] == "error" else ""
        model = f" {escape(obs['model'])}" if obs["model"] else ""
        tokens = f" {obs['usage']['total_tokens']} tok" if obs["usage"]["total_tokens"] else ""
        label = (
            f"{obs['type']} [bold]{escape(obs['name'])}[/]{model} {_ms(obs['latency_ms'])}{tokens}{status}"
        )
        _grow(node.add(label), children, obs["span_id"])


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} ms"


@click.command("export")
@project_option
@filter_options
@click.option("--what", type=click.Choice(["traces", "observations"]), default="traces", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write [default: stdout].")
@pass_state
def export_command(
    state: CliState, /, project: str, what: str, fmt: str, output: IO[str], **filters: Any
) -> None:
    """Export traces or observations matching a filter as JSONL or CSV."""
    engine = state.engine()
    rows = _all_rows(engine, state.project_id(engine, project), what, build_filter(**filters))
    count = _write_jsonl(rows, output) if fmt == "jsonl" else _write_csv(rows, output)
    click.echo(f"Exported {count} {what}.", err=True)


def _all_rows(engine: Any, project_id: str, what: str, flt: Any) -> Iterator[dict[str, Any]]:
    from contrail.store.queries import list_observations, list_traces

    cursor = None
    while True:
        if what == "traces":
            page = list_traces(engine, project_id, flt, limit=500, cursor=cursor)
        else:
            page = list_observations(engine, project_id, flt, limit=500, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _encode(value: Any) -> bytes:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def _write_jsonl(rows: Iterator[dict[str, Any]], output: IO[str]) -> int:
    count = 0
    for row in rows:
        output.write(_encode(row).decode() + "\n")
        count += 1
    return count


def _write_csv(rows: Iterator[dict[str, Any]], output: IO[str]) -> int:
    writer: Any = None
    count = 0
    for row in rows:
        flat = {k: _csv_cell(v) for k, v in row.items()}
        if writer is None:
            writer = csv.DictWriter(output, fieldnames=list(flat))
            writer.writeheader()
        writer.writerow(flat)
        count += 1
    return count


def _csv_cell(value: Any) -> Any:
    if value is not None and not isinstance(value, (str, int, float)):
        value = _encode(value).decode()
    if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
        # Trace content is untrusted: keep spreadsheets from running it as a formula.
        return "'" + value
    return value


_FORMULA_STARTS = frozenset("=+-@\t\r")
