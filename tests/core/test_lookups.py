"""Database.lookups: on PostgreSQL a session without BEGIN/COMMIT round trips (the hot paths' reads before a
group-commit writer); on SQLite an ordinary unit of work."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import text

from dancu.core.db import Database
from dancu.core.driver import READER_POOL_SIZE, driver, release_reader
from tests.conftest import ENGINE


async def _sent(db: Database, lookups: bool) -> list[str]:
    """What asyncpg's query loggers saw for two SELECTs in a lookups session or in a unit of work: one through
    the ORM, one straight to asyncpg (`driver`), on whichever connections they took."""
    seen: list[str] = []

    def log(record: Any) -> None:
        seen.append(record.query.strip().lower())

    async with (db.lookups() if lookups else db.unit_of_work()) as s:
        conn = await (await s.connection()).get_raw_connection()
        orm = conn.dbapi_connection._connection
        orm.add_query_logger(log)
        pg = await driver(s)  # (in a unit of work, this begins the transaction on `orm`)
        if pg is not orm:
            pg.add_query_logger(log)
        try:
            assert (await s.execute(text("SELECT 41 + 1"))).scalar_one() == 42
            await pg.fetchval("SELECT 1")  # a hot-path statement straight to asyncpg, too
        finally:
            for c in {orm, pg}:
                c.remove_query_logger(log)
    return seen


@pytest.mark.skipif(ENGINE != "postgresql", reason="autocommit lookups are PostgreSQL's")
async def test_lookups_send_no_begin_or_commit(fresh_db: str) -> None:
    db = Database(fresh_db)
    try:
        plain = await _sent(db, lookups=False)
        assert any(q.startswith("begin") for q in plain), plain  # the logger does see transaction statements
        lean = await _sent(db, lookups=True)
        assert not any(q.startswith(("begin", "commit", "rollback")) for q in lean), lean
        assert "select 1" in lean  # (statements SQLAlchemy prepares are not logged; asyncpg's own calls are)
        async with db.unit_of_work() as s:  # the pooled connection went back to transactions as usual
            assert (await s.execute(text("SELECT 1"))).scalar_one() == 1
        assert any(q.startswith("begin") for q in await _sent(db, lookups=False))
    finally:
        await db.dispose()


@pytest.mark.skipif(ENGINE != "postgresql", reason="the reader pool is PostgreSQL's")
async def test_lookups_take_driver_connections_from_a_reader_pool(fresh_db: str) -> None:
    db = Database(fresh_db)
    try:
        async with db.lookups() as s:
            first = await driver(s)
            assert await driver(s) is first  # one per session
            orm = (await (await s.connection()).get_raw_connection()).driver_connection
            assert first is not orm  # not SQLAlchemy's pooled connection
            assert not first.is_in_transaction()  # autocommit, as the session's own statements
            assert await first.fetchval("SHOW plan_cache_mode") == "auto"  # (only writers force generic plans)
            await first.execute("CREATE TABLE scratch (name text)")
            await first.execute("INSERT INTO scratch VALUES ('kept')")
        async with db.unit_of_work() as s:  # each statement committed on its own
            assert (await s.execute(text("SELECT count(*) FROM scratch"))).scalar_one() == 1
        async with db.lookups() as s:
            assert await driver(s) is first  # given back when the session ended, and reused
            release_reader(s)  # given back early (a request about to wait for a group commit)...
            async with db.lookups() as other:
                assert await driver(other) is first  # ...so another session takes it meanwhile
                second = await driver(s)  # and this one takes another when it needs one again
                assert second is not first
        async with db.lookups() as s:
            broken = await driver(s)
            broken.terminate()
        async with db.lookups() as s:  # a broken connection is not handed out again
            fresh = await driver(s)
            assert fresh is not broken and not fresh.is_closed()
            assert await fresh.fetchval("SELECT count(*) FROM scratch") == 1
        with pytest.raises(asyncio.CancelledError):
            async with db.lookups() as s:  # cancelled (perhaps mid-statement): closed, not reused
                cancelled = await driver(s)
                raise asyncio.CancelledError
        assert cancelled.is_closed()
        with pytest.raises(ZeroDivisionError):
            async with db.lookups() as s:  # an error of the request's: the connection is kept
                kept = await driver(s)
                assert kept is not cancelled
                raise ZeroDivisionError
        async with db.lookups() as s:
            assert await driver(s) is kept
        async with db.lookups() as s:  # one left inside a transaction is closed, not reused
            stuck = await driver(s)
            await stuck.execute("BEGIN")
        async with db.lookups() as s:
            last = await driver(s)
            assert last is not stuck
        assert stuck.is_closed() and not last.is_closed()
    finally:
        await db.dispose()
    assert last.is_closed()  # dispose closes the reader pool's connections


@pytest.mark.skipif(ENGINE != "postgresql", reason="the reader pool is PostgreSQL's")
async def test_no_reader_slot_is_lost(fresh_db: str) -> None:
    db = Database(fresh_db)  # an empty pool: each first use opens a connection, so two can be opening at once
    try:
        async with db.lookups() as s:  # two tasks of one session asking at once get the same connection
            a, b = await asyncio.gather(driver(s), driver(s))
            assert a is b
        assert await driver(s) is not a  # after the block: SQLAlchemy's connection, no reader taken
        await s.close()
        # Every reader slot came back: the pool's whole size can be taken at once.
        async with AsyncExitStack() as stack:
            sessions = [await stack.enter_async_context(db.lookups()) for _ in range(READER_POOL_SIZE)]
            taken = await asyncio.wait_for(asyncio.gather(*(driver(x) for x in sessions)), 5)
            assert len({id(c) for c in taken}) == READER_POOL_SIZE
    finally:
        await db.dispose()


@pytest.mark.skipif(ENGINE != "sqlite", reason="SQLite's lookups are a unit of work")
async def test_lookups_on_sqlite_roll_back_on_error(fresh_db: str) -> None:
    db = Database(fresh_db)
    try:
        async with db.unit_of_work() as s:
            await s.execute(text("CREATE TABLE scratch (name text)"))
        with pytest.raises(RuntimeError):
            async with db.lookups() as s:
                await s.execute(text("INSERT INTO scratch VALUES ('x')"))
                raise RuntimeError("boom")
        async with db.unit_of_work() as s:
            assert (await s.execute(text("SELECT count(*) FROM scratch"))).scalar_one() == 0
    finally:
        await db.dispose()
