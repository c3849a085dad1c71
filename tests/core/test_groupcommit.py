"""GroupCommit: many requests' items in few transactions, each request answered with its own result only
after its batch committed; a second batch in flight only when enough items wait; a bad item fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.core.db import Database
from dancu.core.driver import driver
from dancu.core.groupcommit import GroupCommit
from tests.conftest import ENGINE


class Log:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gates: list[asyncio.Event] = []  # batch i waits for gates[i] when there is one

    async def write(self, session: AsyncSession, items: Sequence[str]) -> list[str]:
        index = len(self.batches)
        self.batches.append(list(items))
        assert isinstance(session, AsyncSession)  # (no statement: SQLite's one writer would serialise batches)
        if index < len(self.gates):
            await self.gates[index].wait()
        if "bad" in items:
            raise ValueError("a bad item")
        return [f"ok:{i}" for i in items]


def _failed(exc: BaseException) -> str:
    return f"failed:{type(exc).__name__}"


async def _until(predicate: object, *, turns: int = 200) -> None:
    for _ in range(turns):
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached")


@asynccontextmanager
async def _committer(url: str, gates: int = 0, **options: int) -> AsyncIterator[tuple[GroupCommit[str, str], Log]]:
    """A GroupCommit on a real database, writing through a `Log` whose first `gates` batches wait to be let go."""
    db = Database(url)
    log = Log()
    log.gates = [asyncio.Event() for _ in range(gates)]
    gc: GroupCommit[str, str] = GroupCommit(db, log.write, _failed, group_commit=True, **options)
    try:
        yield gc, log
    finally:
        await gc.aclose()
        await db.dispose()


async def test_a_second_batch_waits_until_enough_items_queue(fresh_db: str) -> None:
    async with _committer(fresh_db, gates=2, in_flight=2, parallel_min=4) as (gc, log):
        first = asyncio.create_task(gc.submit(["a"]))
        await _until(lambda: len(log.batches) == 1)
        few = [asyncio.create_task(gc.submit([x])) for x in ("b", "c", "d")]
        await asyncio.sleep(0.05)
        assert len(log.batches) == 1  # three waiting: below parallel_min, no second batch yet
        more = asyncio.create_task(gc.submit(["e"]))
        await _until(lambda: len(log.batches) == 2)  # four waiting: a second batch, beside the first
        assert log.batches[1] == ["b", "c", "d", "e"] and not first.done()
        log.gates[1].set()
        assert [await t for t in few] == [["ok:b"], ["ok:c"], ["ok:d"]] and await more == ["ok:e"]
        assert not first.done()  # answered only when its own batch committed
        log.gates[0].set()
        assert await first == ["ok:a"]
        assert (gc.batches, gc.items) == (2, 5)


async def test_below_parallel_min_the_next_batch_starts_when_the_first_is_written(fresh_db: str) -> None:
    async with _committer(fresh_db, gates=1, in_flight=2, parallel_min=8) as (gc, log):
        first = asyncio.create_task(gc.submit(["a"]))
        await _until(lambda: len(log.batches) == 1)
        rest = asyncio.create_task(gc.submit(["b", "c"]))
        await asyncio.sleep(0.05)
        assert len(log.batches) == 1
        log.gates[0].set()
        assert await first == ["ok:a"] and await rest == ["ok:b", "ok:c"]
        assert log.batches == [["a"], ["b", "c"]]


async def test_a_bad_item_fails_alone(fresh_db: str) -> None:
    async with _committer(fresh_db) as (gc, log):
        results = await asyncio.gather(*(gc.submit([x]) for x in ("a", "bad", "c")))
        assert results == [["ok:a"], ["failed:ValueError"], ["ok:c"]]
        assert ["bad"] in log.batches  # the failed batch was written again item by item


@pytest.mark.skipif(ENGINE != "postgresql", reason="the reader pool is PostgreSQL's")
async def test_a_waiting_request_gives_its_reader_connection_back(fresh_db: str) -> None:
    """While its item waits for the batch's commit, a request's lookups session holds no reader connection,
    so a few reader connections serve many waiting requests; the session takes one again when it reads."""
    async with _committer(fresh_db, gates=1) as (gc, log), gc.db.lookups() as s:
        held = await driver(s)
        waiting = asyncio.create_task(gc.submit(["a"], s))
        try:
            await _until(lambda: log.batches == [["a"]])
            async with gc.db.lookups() as other:  # meanwhile another request takes that same connection
                assert await driver(other) is held
        finally:
            log.gates[0].set()
        assert await waiting == ["ok:a"]
        assert await (await driver(s)).fetchval("SELECT 1") == 1
