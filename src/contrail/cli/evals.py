"""`contrail eval run eval.yaml` (the CI gate) and `contrail eval compare A B`.

Exit codes of ``eval run``: 0 the gate passed, 1 a threshold failed or a regression against the
baseline is significant, 2 the evaluation could not run (bad file, unknown dataset, no server).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from contrail.cli.output import print_table

if TYPE_CHECKING:
    from contrail.evals.client import EvalsClient

host_option = click.option(
    "--host", default=None, help="Contrail server URL (default: CONTRAIL_HOST, as for the SDK)."
)


class CannotRunError(click.ClickException):
    """The evaluation could not run at all (distinct from a failed gate)."""

    exit_code = 2


@click.group("eval")
def eval_group() -> None:
    """Run evaluations over datasets and gate CI on them."""


@eval_group.command("run")
@click.argument("config_path", metavar="EVAL_FILE", type=click.Path(path_type=Path))
@click.option("--name", default=None, help="Experiment name (default: the file's `name`, else dataset-time).")
@click.option(
    "--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML."
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the comparison table (every matrix variant: scores, cost, latency, Pareto) as JSON.",
)
@click.option("--resume", is_flag=True, help="Continue the experiment of the same name, skipping done items.")
@click.option("--no-cache", is_flag=True, help="Call the target even for inputs it has answered before.")
@click.option("--concurrency", type=click.IntRange(1, 512), default=None, help="Items in flight at once.")
@host_option
def run_command(
    config_path: Path,
    name: str | None,
    junit_path: Path | None,
    markdown_path: Path | None,
    json_path: Path | None,
    resume: bool,
    no_cache: bool,
    concurrency: int | None,
    host: str | None,
) -> None:
    """Run EVAL_FILE's experiment (one per variant with a `matrix:`); exit 1 when thresholds fail or
    a run regressed."""
    from contrail.evals.config import ConfigError, run_eval_file
    from contrail.evals.reports import (
        MatrixVerdict,
        junit_xml,
        markdown_summary,
        matrix_json,
        matrix_markdown,
    )

    _configure_tracing(host)
    client = _client(host)
    try:
        verdict = asyncio.run(
            _closing(
                client,
                run_eval_file(
                    config_path,
                    client=client,
                    name=name,
                    resume=resume,
                    cache=False if no_cache else None,
                    concurrency=concurrency,
                ),
            )
        )
    except ConfigError as exc:
        raise CannotRunError(str(exc)) from exc
    except Exception as exc:
        _reraise_api_error(exc, client.host)
        raise
    if junit_path is not None:
        junit_path.write_text(junit_xml(verdict), encoding="utf-8")
    matrix = isinstance(verdict, MatrixVerdict)
    if markdown_path is not None:
        with markdown_path.open("a", encoding="utf-8") as out:  # $GITHUB_STEP_SUMMARY is appended to
            out.write(matrix_markdown(verdict) if matrix else markdown_summary(verdict))
    if json_path is not None:
        json_path.write_text(matrix_json(verdict), encoding="utf-8")
    if matrix:
        _print_matrix(verdict)
    else:
        _print_verdict(verdict)
    if not verdict.passed:
        raise SystemExit(1)


@eval_group.command("compare")
@click.argument("baseline")
@click.argument("candidate")
@click.option("--dataset", default=None, help="Dataset, to name experiments by name rather than id.")
@click.option("--metric", default=None, help="Only this score.")
@host_option
def compare_command(
    baseline: str, candidate: str, dataset: str | None, metric: str | None, host: str | None
) -> None:
    """Compare experiment CANDIDATE with BASELINE (ids, or names with --dataset)."""
    from contrail.evals.reports import comparisons_from

    client = _client(host)

    async def compare() -> dict[str, Any]:
        base = await client.find_experiment(baseline, dataset)
        cand = await client.find_experiment(candidate, dataset)
        return await client.compare(str(base["id"]), str(cand["id"]), metric)

    try:
        payload = asyncio.run(_closing(client, compare()))
    except Exception as exc:
        _reraise_api_error(exc, client.host)
        raise
    rows = [
        (
            c.metric,
            _num(c.baseline_mean),
            _num(c.candidate_mean),
            _num(c.diff, signed=True),
            f"[{_num(c.ci_low, signed=True)}, {_num(c.ci_high, signed=True)}]",
            _num(c.p_value),
            "regressed" if c.regressed else ("significant" if c.significant else "no significant change"),
        )
        for c in comparisons_from(payload)
    ]
    columns = ("metric", "baseline", "candidate", "diff", "95% CI", "p", "verdict")
    print_table(f"{candidate} vs {baseline}", columns, rows)


def _client(host: str | None) -> EvalsClient:
    from contrail.evals.client import EvalsClient

    return EvalsClient.from_config(host=host)


def _configure_tracing(host: str | None) -> None:
    """Traces go to the same server as the results (the SDK's settings, with --host applied)."""
    if host:
        import contrail

        contrail.configure(host=host)


async def _closing(client: Any, work: Any) -> Any:
    try:
        return await work
    finally:
        await client.aclose()


def _reraise_api_error(exc: Exception, host: str) -> None:
    from contrail.evals.client import EvalsApiError, ServerUnreachableError

    if isinstance(exc, ServerUnreachableError):
        raise CannotRunError(exc.message) from exc
    if isinstance(exc, EvalsApiError):
        if exc.status in (401, 403):
            raise CannotRunError(
                f"Contrail at {host} rejected the API key ({exc.status}). Set CONTRAIL_SECRET_KEY "
                "(and CONTRAIL_PUBLIC_KEY) to a key of the project that holds the dataset."
            ) from exc
        raise CannotRunError(f"{exc.message} (HTTP {exc.status} from {host})") from exc


def _print_verdict(verdict: Any) -> None:
    metrics = verdict.run.metrics()
    rows = [(key, _num(value)) for key, value in sorted(metrics.items())]
    print_table(f"Experiment {verdict.run.name} ({verdict.run.id})", ("metric", "value"), rows)
    checks = [(str(c.threshold), _num(c.actual), "pass" if c.passed else "FAIL") for c in verdict.checks]
    print_table("Checks", ("check", "actual", "result"), checks)
    if verdict.passed:
        click.echo("PASSED")
        return
    for line in verdict.failures():
        click.echo(f"FAILED: {line}", err=True)


def _print_matrix(verdict: Any) -> None:
    from rich.markup import escape

    from contrail.evals.reports import matrix_scorers, money_text

    for variant in verdict.variants:
        checks = variant.verdict.checks
        rows = [(str(c.threshold), _num(c.actual), "pass" if c.passed else "FAIL") for c in checks]
        print_table(
            escape(f"Checks of {variant.name} ({variant.verdict.run.name})"),
            ("check", "actual", "result"),
            rows,
        )
    scorers = matrix_scorers(verdict)
    columns = (
        "variant",
        "items",
        "errors",
        *scorers,
        "cost total",
        "cost/item",
        "p50 ms",
        "p95 ms",
        "Pareto",
    )
    table = [
        (
            row.variant,
            row.items,
            row.errors,
            *(_num(row.means.get(name)) for name in scorers),
            money_text(row.cost_usd_total),
            money_text(row.cost_usd_mean),
            _num(row.latency_p50_ms),
            _num(row.latency_p95_ms),
            row.pareto_text,
        )
        for row in verdict.rows
    ]
    print_table(escape(f"Matrix on {verdict.dataset} (quality: {verdict.quality or '-'})"), columns, table)
    if verdict.passed:
        click.echo(f"PASSED: all {len(verdict.variants)} variants")
        return
    for line in verdict.failures():
        click.echo(f"FAILED: {line}", err=True)


def _num(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"
