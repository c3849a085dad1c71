"""Group commit for passages: many requests, one transaction.

A durable commit costs about 0.64 ms of fsync on PostgreSQL, so one commit per scan caps a process at
~1,500 scans/s. Instead each request hands its verified passage to the process's recorder and awaits a
future; a drain task hands everything queued so far to a writer task that writes it in one transaction
(`passages.write_batch`), commits, and only then resolves the futures — a 201 is never sent before its
passage is durable. At most IN_FLIGHT batches are written at once; meanwhile the next ones queue up, so
batches grow with the load and the latency stays at about two transaction times. The tasks exist only
while there is work; nothing runs when idle.

Passages of concurrent batches (other processes', or this one's other batch in flight) are not checked
against each other for "already scanned" until they are committed: two scans of one pass at one
checkpoint within the same ~20 ms may both be recorded as confirmed. Idempotency keys never double
(a unique index).

On SQLite (one writer, tests, small installs) the batch is written inline in the request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.checkpoints.passages import Outcome, Pending, write_batch
from dancu.core.db import Database, utcnow

log = logging.getLogger(__name__)
MAX_BATCH = 1000
MAX_LINGER = 0.005  # seconds a batch may wait for requests already being verified in this process
# Batches written at once by one process. With one, the next batch waits for the whole previous transaction
# (a dozen round trips, each resumed only when the event loop gets back to it); with two, one is being
# written while the other commits, which nearly doubled a worker's throughput (bench/bench_scan.py).
IN_FLIGHT = 2


class Recorder:
    def __init__(self, db: Database, *, group_commit: bool, max_batch: int = MAX_BATCH,
                 in_flight: int = IN_FLIGHT) -> None:
        self.db = db
        self.group_commit = group_commit
        self.max_batch = max_batch
        self._queue: list[tuple[Pending, asyncio.Future[Outcome]]] = []
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(in_flight)
        self._writing: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._arriving = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self.batches = 0
        self.items = 0

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Mark a request that is being verified and will submit soon: the next batch waits for it (at most
        MAX_LINGER). Without this, a commit would start with the first request to arrive and the rest, a
        millisecond behind, would wait a whole commit: batches alternating between 1 and 30."""
        self._arriving += 1
        self._settled.clear()
        try:
            yield
        finally:
            self._arriving -= 1
            if self._arriving == 0:
                self._settled.set()

    async def _linger(self) -> None:
        if self._arriving and len(self._queue) < self.max_batch:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), MAX_LINGER)

    async def submit(self, pendings: Sequence[Pending], session: AsyncSession | None = None) -> list[Outcome]:
        """Record these passages; returns after their transaction committed, one outcome per pending.

        Without group commit (SQLite) the batch is written inline: in `session` (the request's, committed
        here) when given — SQLite has one writer, so a second transaction would wait for the first."""
        if not pendings:
            return []
        if not self.group_commit:
            if session is not None:
                outcomes = await write_batch(session, pendings, utcnow())
                await session.commit()
                return outcomes
            async with self._lock:
                return [_outcome(r) for r in await self._write_isolated(pendings)]
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Outcome]] = []
        for pending in pendings:
            future: asyncio.Future[Outcome] = loop.create_future()
            self._queue.append((pending, future))
            futures.append(future)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return [_outcome(r) for r in await asyncio.gather(*futures, return_exceptions=True)]

    async def _write(self, pendings: Sequence[Pending]) -> list[Outcome]:
        async with self.db.unit_of_work() as session:
            outcomes = await write_batch(session, pendings, utcnow())
        self.batches += 1
        self.items += len(pendings)
        return outcomes

    async def _write_isolated(self, batch: Sequence[Pending]) -> list[Outcome | Exception]:
        """The whole batch in one transaction; if that fails, each item alone so one bad item fails alone."""
        try:
            return list(await self._write(batch))
        except Exception:
            if len(batch) == 1:
                raise
            log.warning("a passage batch of %d failed; writing its items one by one", len(batch), exc_info=True)
        results: list[Outcome | Exception] = []
        for pending in batch:
            try:
                results.extend(await self._write([pending]))
            except Exception as exc:
                results.append(exc)
        return results

    async def _drain(self) -> None:
        """Take batches off the queue while there are any, each written by a task of its own once one of
        the `in_flight` slots is free."""
        batch: list[tuple[Pending, asyncio.Future[Outcome]]] = []
        try:
            while self._queue:
                await self._slots.acquire()
                try:
                    await self._linger()
                    batch = self._queue[: self.max_batch]
                    del self._queue[: self.max_batch]
                except BaseException:
                    self._slots.release()
                    raise
                task = asyncio.get_running_loop().create_task(self._write_and_settle(batch))
                self._writing.add(task)
                task.add_done_callback(self._writing.discard)
                batch = []
        finally:
            # Cancelled (shutdown): nobody may wait forever on a future that will never be resolved.
            for _, future in [*batch, *self._queue]:
                if not future.done():
                    future.set_exception(RuntimeError("the passage recorder stopped before writing"))
            self._queue.clear()

    async def _write_and_settle(self, batch: list[tuple[Pending, asyncio.Future[Outcome]]]) -> None:
        try:
            try:
                results = await self._write_isolated([p for p, _ in batch])
            except Exception as exc:
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the request went away; its passage is recorded all the same
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            self._slots.release()
            for _, future in batch:
                if not future.done():  # cancelled mid-write (shutdown): outcome unknown, the client retries
                    future.set_exception(RuntimeError("the passage recorder stopped while writing"))

    async def aclose(self) -> None:
        """Wait until everything queued is written (called on shutdown, after requests stopped)."""
        while (self._task is not None and not self._task.done()) or self._writing:
            if self._task is not None and not self._task.done():
                await asyncio.shield(self._task)
            if self._writing:
                await asyncio.wait(set(self._writing))


def _outcome(result: Outcome | BaseException) -> Outcome:
    """A write that failed (database down, a constraint the checks missed) is an error outcome for that
    item alone; the client retries it with the same idempotency key."""
    if isinstance(result, Outcome):
        return result
    if isinstance(result, asyncio.CancelledError):
        raise result
    log.error("a passage could not be recorded", exc_info=result)
    return Outcome("error", "not_recorded", None, "The passage could not be recorded: send it again.")


def get_recorder(app: FastAPI) -> Recorder:
    """The app's recorder, created on first use (inside the running event loop of this worker)."""
    recorder: Recorder | None = getattr(app.state, "passage_recorder", None)
    db: Database = app.state.db
    if recorder is None or recorder.db is not db:
        recorder = Recorder(db, group_commit=not db.is_sqlite)
        app.state.passage_recorder = recorder
    return recorder


async def shutdown(app: FastAPI) -> None:
    """Flush what is queued; for the app lifespan, before the database is disposed."""
    recorder: Recorder | None = getattr(app.state, "passage_recorder", None)
    if recorder is not None:
        await recorder.aclose()
