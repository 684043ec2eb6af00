"""`contrail worker`: an online-evaluation worker process (scale scoring out beside the servers)."""

from __future__ import annotations

import contextlib
import logging
import signal
from types import FrameType

import click

from contrail.cli.context import CliState, pass_state


@click.command("worker")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1000),
    default=None,
    help="Jobs claimed and scored at once [default: CONTRAIL_ONLINE_EVAL_BATCH_SIZE or 16].",
)
@pass_state
def worker_command(state: CliState, batch_size: int | None) -> None:
    """Score online-evaluation jobs until stopped (Ctrl-C or SIGTERM finish the jobs in hand).

    Run several on PostgreSQL: each job goes to one worker, and a crashed worker's jobs are retried
    when their lease ends. On SQLite the server's own worker usually suffices.
    """
    import dataclasses

    from contrail.evals.online_worker import OnlineEvalWorker, WorkerConfig

    settings = state.settings()
    logging.getLogger("contrail").setLevel(settings.log_level.upper())
    config = WorkerConfig.from_settings(settings)
    if batch_size is not None:
        config = dataclasses.replace(config, batch_size=batch_size)
    worker = OnlineEvalWorker(state.engine(), config)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        worker.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    click.echo(f"Online-evaluation worker {worker.name} started.", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        worker.run_forever()
    click.echo("Worker stopped.", err=True)
