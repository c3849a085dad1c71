"""Group commit: many requests' writes, one transaction.

A durable commit costs a WAL flush, and every statement through SQLAlchemy costs a few hundred
microseconds of CPU, so one transaction per request caps a hot path (checkpoint passages, declarations)
far below what the database can take. Instead each request prepares its item (checks, signatures: CPU
only), hands it to the process's `GroupCommit` and awaits a future. A drain task hands everything queued
so far to a writer task that writes it with the domain's `write(session, items)` in one transaction,
commits, and only then resolves the futures: a request never answers before its item is durable. At most
`in_flight` batches are written at once; meanwhile the next ones queue up, so batches grow with the load
and latency stays at about two transaction times. The tasks exist only while there is work.

On PostgreSQL a domain may also give `write_pg(session, items, pg, owned)`, which writes a batch through the
driver on a connection of the writer's own (`core.driver.DriverPool`); `session` is a `Database.lookups()`
session for the cached reads the batch may need (it writes nothing). It is used for the batches
`pg_batchable(items)` accepts; the others go through a unit of work as before. `owned` is what the
connection claimed when it opened, if the domain gives `claim(pg)` (the passages claim an audit chain:
`audit.repository.pg_claim_chain`). With something owned, `pg` is in no transaction and the batch is
statements that each commit on their own, every one atomic: that saves the BEGIN and COMMIT round trips,
each of which waits its turn in a busy event loop (~2 ms under load, docs/benchmarks.md). With None, `pg`
is in the batch's transaction.

If a batch fails, its items are written one by one, so one bad item fails alone; an item that still fails
becomes `failed(exc)` for its request. Without group commit (SQLite: one writer, tests, small
installs) items are written inline, in the request's session when it is given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.core.db import Database
from dancu.core.driver import DriverPool, release_reader

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
MAX_BATCH = 1000
MAX_LINGER = 0.005  # seconds a batch may wait for requests already being prepared in this process
# Batches written at once by one process. With one, the next batch waits for the whole previous transaction
# (a few round trips, each resumed only when the event loop gets back to it); two kept the scan API's p99
# lower under load on a fast machine. But a second batch also halves the batch size, and each batch has a
# fixed cost (BEGIN, statements, COMMIT): on a CPU-bound machine two small batches lost 10-25% of the
# throughput. So a second batch starts only once PARALLEL_MIN items wait (bench/bench_scan.py).
IN_FLIGHT = 2
PARALLEL_MIN = 8


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        db: Database,
        write: Callable[[AsyncSession, Sequence[T]], Awaitable[list[R]]],
        failed: Callable[[BaseException], R],
        *,
        group_commit: bool,
        max_batch: int = MAX_BATCH,
        in_flight: int = IN_FLIGHT,
        parallel_min: int = PARALLEL_MIN,
        write_pg: Callable[[AsyncSession, Sequence[T], Any, Any], Awaitable[list[R]]] | None = None,
        pg_batchable: Callable[[Sequence[T]], bool] = lambda _items: True,
        claim: Callable[[Any], Awaitable[Any]] | None = None,
    ) -> None:
        self.db = db
        self.write = write
        self.write_pg = write_pg if group_commit and not db.is_sqlite else None
        self._claim = claim
        self.pg_batchable = pg_batchable
        self._pg: DriverPool | None = None
        self._in_flight = in_flight
        self.failed = failed
        self.group_commit = group_commit
        self.max_batch = max_batch
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(in_flight)
        self.parallel_min = parallel_min
        self._changed = asyncio.Event()  # an item queued or a batch written: the drain looks again
        self._writing: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._arriving = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self.batches = 0
        self.items = 0

    @contextmanager
    def arriving(self) -> Iterator[None]:
        """Mark a request that is being prepared and will submit soon: the next batch waits for it (at most
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

    async def submit(self, items: Sequence[T], session: AsyncSession | None = None) -> list[R]:
        """Write these items; returns after their transaction committed, one result per item.

        Without group commit the batch is written inline: in `session` (the request's, committed here)
        when given — SQLite has one writer, so a second transaction would wait for the first. With group
        commit, the request's `session` is committed (and a lookups session's reader connection given back)
        before waiting, so that waiting requests do not hold every pooled connection and leave none for the
        writer."""
        if not items:
            return []
        if self.group_commit and session is not None:
            release_reader(session)
            if session.in_transaction():
                await session.commit()
        if not self.group_commit:
            if session is not None:
                results = await self.write(session, items)
                await session.commit()
                return results
            async with self._lock:
                return [self._result(r) for r in await self._write_isolated(items)]
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            future: asyncio.Future[R] = loop.create_future()
            self._queue.append((item, future))
            futures.append(future)
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return [self._result(r) for r in await asyncio.gather(*futures, return_exceptions=True)]

    def _result(self, result: R | BaseException) -> R:
        if isinstance(result, asyncio.CancelledError):
            raise result
        if isinstance(result, BaseException):
            log.error("a group-committed write failed", exc_info=result)
            return self.failed(result)
        return result

    async def _write(self, items: Sequence[T]) -> list[R]:
        if self.write_pg is not None and self.pg_batchable(items):
            if self._pg is None:
                self._pg = self.db.driver_pool(self._in_flight, self._claim, generic_plans=True)
            async with self._pg.connection() as pg:
                owned = self._pg.claimed(pg)
                # Without anything owned, a transaction; it comes first, as the lookups session may be a
                # savepoint on the same connection (tests).
                async with pg.transaction() if owned is None else nullcontext(), self.db.lookups() as session:
                    results = await self.write_pg(session, items, pg, owned)
        else:
            async with self.db.unit_of_work() as session:
                results = await self.write(session, items)
        self.batches += 1
        self.items += len(items)
        return results

    async def _write_isolated(self, batch: Sequence[T]) -> list[R | Exception]:
        """The whole batch in one transaction; if that fails, each item alone so one bad item fails alone."""
        try:
            return list(await self._write(batch))
        except Exception:
            if len(batch) == 1:
                raise
            log.warning("a batch of %d failed; writing its items one by one", len(batch), exc_info=True)
        results: list[R | Exception] = []
        for item in batch:
            try:
                results.extend(await self._write([item]))
            except Exception as exc:
                results.append(exc)
        return results

    async def _drain(self) -> None:
        """Take batches off the queue while there are any, each written by a task of its own once one of
        the `in_flight` slots is free."""
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._queue:
                if self._writing and len(self._queue) < self.parallel_min:
                    # A batch is being written and few items wait: they go together in the next one.
                    self._changed.clear()
                    await self._changed.wait()
                    continue
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
                task.add_done_callback(self._written)
                batch = []
        finally:
            # Cancelled (shutdown): nobody may wait forever on a future that will never be resolved.
            for _, future in [*batch, *self._queue]:
                if not future.done():
                    future.set_exception(RuntimeError("the writer stopped before writing"))
            self._queue.clear()

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writing.discard(task)
        self._changed.set()

    async def _write_and_settle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            try:
                results: list[R | Exception] = await self._write_isolated([item for item, _ in batch])
            except Exception as exc:
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the request went away; its item is written all the same
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            self._slots.release()
            for _, future in batch:
                if not future.done():  # cancelled mid-write (shutdown): outcome unknown, the client retries
                    future.set_exception(RuntimeError("the writer stopped while writing"))

    async def aclose(self) -> None:
        """Wait until everything queued is written (called on shutdown, after requests stopped)."""
        while (self._task is not None and not self._task.done()) or self._writing:
            if self._task is not None and not self._task.done():
                await asyncio.shield(self._task)
            if self._writing:
                await asyncio.wait(set(self._writing))
