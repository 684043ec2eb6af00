"""The single writer in a process of its own.

In one process the writer thread and the event loop (HTTP, OTLP decoding, convention mapping) take
turns on the GIL: the writer, the pipeline's bottleneck, ran at half its own speed (170 µs of wall
time per span in the server against 80 µs alone). Here it gets its own interpreter and core. The
server sends prepared batches (rows only, see ``WriteBatch.for_writer``: a few µs per span to pickle)
over a socket pair and waits for the answer, so a request is still acknowledged only after commit.

The child is started with ``python -m contrail.store.writer_process FD`` (not multiprocessing's
spawn, which would re-import the whole CLI) and reads its settings from the first message, so a
PostgreSQL password never shows in ``ps``. It exits when the server closes the socket or dies
(SIGKILL included: Linux parent-death signal), ignores SIGINT and SIGTERM meanwhile (the server
drains its queue through it on shutdown), and is restarted by the server if it dies.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from contrail.store.writer import WriteBatch

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_OK = b"ok"
# SQLite page cache of the writer's connection (readers keep the default 16 MB). With 16 MB, re-reads of
# older FTS5 segments were 18% of the writer's time at 400k spans; with full-text batches (store.search)
# 32 MB still cost 6% throughput at 32 clients and 48 MB did not lower the peak RSS (docs/benchmarks.md).
WRITER_CACHE_MB = 64


class WriterProcessError(RuntimeError):
    """A write failed in the writer process; the message is the database error."""


class WriterProcessRestartedError(WriterProcessError):
    """The writer process died before committing the write (nothing of it was stored); a new one runs."""


class WriterProcess:
    """A child process running ``write_group``; ``write`` blocks until the group is committed.

    Several threads may call ``write`` at once: groups are sent in turn and the child commits them
    in the order received, answering each in that order; a caller reads answers until its own.
    """

    def __init__(self, database_url: str, *, sqlite_synchronous: str = "FULL") -> None:
        self._config = {"database_url": database_url, "sqlite_synchronous": sqlite_synchronous}
        self._lock = threading.Lock()  # sending, starting and stopping
        self._receiving = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None
        self._generation = 0  # bumped on every (re)start: answers never cross a restart
        self._sent = 0
        self._received = 0
        self._answers: dict[int, bytes | None] = {}  # by send number; None: the child died first

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        self._generation += 1
        self._sent = self._received = 0
        parent_end, child_end = socket.socketpair()
        with parent_end, child_end:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell, no user input
                [sys.executable, "-m", "contrail.store.writer_process", str(child_end.fileno())],
                pass_fds=(child_end.fileno(),),
                stdin=subprocess.DEVNULL,
            )
            self._connection = Connection(parent_end.detach())
        self._connection.send(self._config)
        try:
            ready = self._connection.recv_bytes()
        except (EOFError, OSError):
            ready = b"it exited"
        if ready != _OK:
            raise WriterProcessError(f"the writer process did not start: {ready.decode(errors='replace')}")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def write(self, batches: Sequence[WriteBatch], now_us: int) -> None:
        """Commit ``batches`` in one transaction in the child; raises WriterProcessError."""
        message = pickle.dumps(([b.for_writer(now_us) for b in batches], now_us), protocol=5)
        with self._lock:
            if self._connection is None:
                self._start()
            assert self._connection is not None
            connection, generation = self._connection, self._generation
            self._sent += 1
            number = self._sent
            try:
                connection.send_bytes(message)
            except OSError:
                self._restart()
                raise WriterProcessRestartedError("the writer process had exited; it was restarted") from None
        answer = self._answer(connection, generation, number)
        if answer is None:
            raise WriterProcessRestartedError("the writer process exited during a write; it was restarted")
        if answer != _OK:
            raise WriterProcessError(answer.decode(errors="replace"))

    def _answer(self, connection: Connection, generation: int, number: int) -> bytes | None:
        with self._receiving:
            if generation != self._generation:
                return None  # the child it was sent to is gone
            while number not in self._answers:
                try:
                    answer: bytes | None = connection.recv_bytes()
                except (EOFError, OSError):
                    with self._lock:
                        if generation == self._generation:
                            self._restart()
                    return None
                self._received += 1
                self._answers[self._received] = answer
            return self._answers.pop(number)

    def _restart(self) -> None:
        logger.error("The writer process (pid %s) exited unexpectedly; starting a new one", self.pid)
        self._answers.clear()
        self._close()
        self._start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Let the child finish and exit (it has written everything it acknowledged)."""
        with self._lock:
            self._close(timeout_s)

    def _close(self, timeout_s: float = 5.0) -> None:
        if self._connection is not None:
            self._connection.close()  # the child exits on end of input
            self._connection = None
        if self._process is not None:
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def _serve(connection: Connection) -> None:
    from contrail.heap import settle_after_startup
    from contrail.store.database import open_engine
    from contrail.store.writer import write_group

    config: dict[str, Any] = connection.recv()
    engine = open_engine(
        config["database_url"],
        sqlite_synchronous=config["sqlite_synchronous"],
        sqlite_autocheckpoint=False,
        sqlite_cache_mb=WRITER_CACHE_MB,
    )
    settle_after_startup()
    connection.send_bytes(_OK)
    while True:
        try:
            message = connection.recv_bytes()
        except EOFError:
            break
        # Trusted: only the server that started this process holds the other end of the socket.
        batches, now_us = pickle.loads(message)  # noqa: S301
        try:
            write_group(engine, batches, now_us)
        except Exception as exc:
            # The server retries the group's requests one by one and answers the failing one 5xx.
            connection.send_bytes(f"{type(exc).__name__}: {exc}".encode())
            continue
        connection.send_bytes(_OK)
    engine.dispose()


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the server died before the signal was armed
        sys.exit(0)


def main(argv: list[str]) -> None:
    _die_with_parent()
    # Ctrl+C and a service manager's SIGTERM reach the whole process group; the server then drains
    # its queue through this process, which must outlive it until the socket closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _serve(Connection(int(argv[0])))


if __name__ == "__main__":
    main(sys.argv[1:])
