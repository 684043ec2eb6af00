"""The bounded write queue between ingest requests and the single writer.

Requests enqueue a WriteBatch and await it; a writer task takes everything waiting (up to
``group_spans``), commits it in one transaction on a dedicated thread, then wakes each request.
With a writer process (store.writer_process) two such lanes run: while the child commits one group
the next is already pickled and waiting in its socket, so the child never waits for the server.
A full queue answers 503 with Retry-After instead of growing (backpressure, not collapse).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Callable

from sqlalchemy import Engine

from contrail.schema.timeconv import now_us
from contrail.store.writer import WriteBatch, write_group
from contrail.store.writer_process import WriterProcess

logger = logging.getLogger(__name__)


class QueueFullError(Exception):
    """The writer is behind; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"write queue full, retry after {retry_after} s")
        self.retry_after = retry_after


class WriterStoppedError(Exception):
    """The server is shutting down and accepts no more writes."""


@dataclasses.dataclass(slots=True)
class _Pending:
    batch: WriteBatch
    size: int
    done: asyncio.Future[None]


class WriteQueue:
    def __init__(
        self,
        engine: Engine,
        *,
        max_spans: int,
        group_spans: int,
        on_written: Callable[[float], None] | None = None,
        process: WriterProcess | None = None,
    ) -> None:
        self._on_written = on_written
        self._engine = engine
        self._process = process
        self._max_spans = max_spans
        self._group_spans = group_spans
        self._pending: collections.deque[_Pending] = collections.deque()
        self._pending_spans = 0
        self._wakeup = asyncio.Event()
        self._lanes = 2 if process is not None else 1
        self._executor = concurrent.futures.ThreadPoolExecutor(
            self._lanes, thread_name_prefix="contrail-writer"
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self) -> None:
        if self._tasks:
            return
        if self._process is not None:
            self._process.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(), name=f"contrail-writer-{i}") for i in range(self._lanes)]

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        self._stopping = True
        if self._tasks:
            self._wakeup.set()
            await asyncio.gather(*self._tasks)
        self._executor.shutdown(wait=True)
        if self._process is not None:
            self._process.stop()

    @property
    def pending_spans(self) -> int:
        return self._pending_spans

    async def submit(self, batch: WriteBatch) -> None:
        """Return once ``batch`` is committed. Raises QueueFullError, WriterStoppedError or the DB error."""
        if self._stopping:
            raise WriterStoppedError
        if not self._tasks:
            self.start()
        size = batch.size
        if self._pending_spans and self._pending_spans + size > self._max_spans:
            raise QueueFullError(retry_after=1 + self._pending_spans // max(self._group_spans, 1) // 10)
        pending = _Pending(batch, size, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        self._pending_spans += size
        self._wakeup.set()
        await pending.done

    async def _run(self) -> None:
        # Each task is one lane. It checks the queue before waiting, so a wake-up another lane took is
        # not lost.
        while True:
            while self._pending:
                await self._write(self._take_group())
            if self._stopping:
                return
            await self._wakeup.wait()
            self._wakeup.clear()

    def _take_group(self) -> list[_Pending]:
        group: list[_Pending] = []
        spans = 0
        while self._pending and (not group or spans + self._pending[0].size <= self._group_spans):
            item = self._pending.popleft()
            group.append(item)
            spans += item.size
        return group

    async def _write(self, group: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            batches = [p.batch for p in group]
            if self._process is not None:
                await loop.run_in_executor(self._executor, self._process.write, batches, now_us())
            else:
                await loop.run_in_executor(self._executor, write_group, self._engine, batches, now_us())
            if self._on_written is not None:
                self._on_written(time.perf_counter() - started)
        except Exception as exc:
            if len(group) > 1:
                # Find the batch at fault: write the others one by one so they still succeed.
                logger.warning(
                    "A write group failed (%s); retrying its %d requests one by one", exc, len(group)
                )
                for item in group:
                    await self._write([item])
                return
            logger.exception("Writing an ingest batch failed")
            self._finish(group, exc)
            return
        self._finish(group, None)

    def _finish(self, group: list[_Pending], error: BaseException | None) -> None:
        for item in group:
            self._pending_spans -= item.size
            if item.done.done():
                continue  # the request was cancelled (client went away); its data is stored regardless
            if error is None:
                item.done.set_result(None)
            else:
                item.done.set_exception(error)
