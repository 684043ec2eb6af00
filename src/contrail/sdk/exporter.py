"""The background exporter: a bounded queue drained by one daemon thread.

``submit`` is the only method on the host's hot path: an append to a deque, or a counted drop when
the queue is full. The thread wakes every ``flush_interval`` seconds, or early when a batch is
ready, encodes batches of ``batch_size`` and hands them to the transport. After ``os.fork`` the
child gets a fresh, empty queue and its own thread (the parent still owns what it queued).
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from typing import Any

from contrail.sdk import guard
from contrail.sdk.config import Config
from contrail.sdk.encoding import Encoder, Exportable
from contrail.sdk.transport import Outcome, Transport

_log = logging.getLogger("contrail")
_MAX_BODY_BYTES = 4_000_000

_live: weakref.WeakSet[HttpExporter] = weakref.WeakSet()


class HttpExporter:
    """Queues spans and scores and ships them to the Contrail server in the background."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.encoder = Encoder(config)
        self.dropped = 0
        self.sent = 0
        self._max = config.max_queue
        self._batch = config.batch_size
        self._start()
        _live.add(self)

    def _start(self) -> None:
        self._queue: collections.deque[Exportable] = collections.deque()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[threading.Event] = []
        self._transport = Transport(self.config, self._stopping)
        self._thread = threading.Thread(target=self._run, name="contrail-exporter", daemon=True)
        self._thread.start()

    def submit(self, item: Exportable) -> None:
        """Queue ``item`` for export; drops (and counts) it when the queue is full. Never blocks."""
        queue = self._queue
        if len(queue) >= self._max:
            self.dropped += 1
            return
        queue.append(item)
        if len(queue) >= self._batch:
            self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call is exported (or dropped); False on timeout."""
        if not self._thread.is_alive():
            return not self._queue
        done = threading.Event()
        with self._lock:
            self._waiters.append(done)
        self._wake.set()
        return done.wait(self.config.shutdown_timeout * 5 if timeout is None else timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Export what is queued within ``timeout`` seconds, then stop the thread."""
        limit = self.config.shutdown_timeout if timeout is None else timeout
        self.flush(limit)
        self._stopping.set()
        self._wake.set()
        self._thread.join(max(limit, 0.01))
        _live.discard(self)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.config.flush_interval)
            self._wake.clear()
            with self._lock:
                waiters, self._waiters = self._waiters, []
            try:
                self._drain()
            except Exception as exc:  # the thread must survive any bug; strict mode re-raises
                guard.report("export thread", exc)
            for done in waiters:
                done.set()
        self._transport.close()

    def _drain(self) -> None:
        while self._queue and not self._stopping.is_set():
            items = self._take()
            events = self._events(items)
            if events:
                self._send(events)

    def _take(self) -> list[Exportable]:
        queue, items = self._queue, []
        for _ in range(min(self._batch, len(queue))):
            items.append(queue.popleft())
        return items

    def _events(self, items: list[Exportable]) -> list[dict[str, Any]]:
        events = []
        for item in items:
            try:
                events.append(self.encoder.event(item))
            except Exception as exc:  # a failing mask hook drops its item rather than leak it unmasked
                self.dropped += 1
                guard.report("encode", exc)
        return events

    def _send(self, events: list[dict[str, Any]]) -> None:
        data = self.encoder.body(events)
        if len(data) > _MAX_BODY_BYTES and len(events) > 1:
            self._split(events)
            return
        payload, compressed = self.encoder.compress(data)
        outcome = self._transport.send(payload, compressed, deadline=None)
        if outcome is Outcome.SENT:
            self.sent += len(events)
        elif outcome is Outcome.TOO_LARGE and len(events) > 1:
            self._split(events)
        else:
            self.dropped += len(events)

    def _split(self, events: list[dict[str, Any]]) -> None:
        half = len(events) // 2
        self._send(events[:half])
        self._send(events[half:])

    def _after_fork(self) -> None:
        self.dropped = 0
        self.sent = 0
        self._start()


def _after_fork_in_child() -> None:
    for exporter in list(_live):
        exporter._after_fork()


def _at_exit() -> None:
    deadline = time.monotonic()
    for exporter in list(_live):
        remaining = exporter.config.shutdown_timeout - (time.monotonic() - deadline)
        try:
            exporter.shutdown(max(remaining, 0.0))
        except Exception as exc:  # never fail interpreter exit
            _log.debug("Contrail exporter shutdown failed at exit: %s", exc)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
