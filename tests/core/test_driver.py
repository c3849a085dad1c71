"""core.driver.driver and core.db.PgInsert: statements sent straight to asyncpg run in the session's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import asyncpg
import pytest
from sqlalchemy import Table, text

from dancu.audit.models import AuditEvent
from dancu.core.db import Database, PgInsert
from dancu.core.driver import driver
from tests.conftest import ENGINE

pytestmark = pytest.mark.skipif(ENGINE != "postgresql", reason="asyncpg is PostgreSQL's driver")


async def _count(db: Database, name: str) -> int:
    async with db.unit_of_work() as s:
        return int((await s.execute(text("SELECT count(*) FROM scratch WHERE name = :n"), {"n": name})).scalar_one())


async def test_driver_statements_commit_and_roll_back_with_the_session(fresh_db: str) -> None:
    db = Database(fresh_db)
    try:
        async with db.unit_of_work() as s:
            await s.execute(text("CREATE TABLE scratch (name text)"))
        async with db.sessionmaker() as s:
            pg = await driver(s)  # the first statement of the session: the transaction is begun here
            await pg.execute("INSERT INTO scratch VALUES ($1)", "rolled back")
            await s.rollback()
        assert await _count(db, "rolled back") == 0
        async with db.sessionmaker() as s:
            await s.execute(text("SELECT 1"))  # begun by SQLAlchemy first: driver joins it
            await (await driver(s)).execute("INSERT INTO scratch VALUES ($1)", "committed")
            await s.commit()
        assert await _count(db, "committed") == 1
    finally:
        await db.dispose()


async def test_pg_insert_is_one_statement_for_any_number_of_rows(fresh_db: str) -> None:
    table = cast(Table, AuditEvent.__table__)
    statement = PgInsert(table, ("id", "chain", "at", "action", "outcome", "details", "prev_hash", "hash"),
                         "RETURNING id")
    at = datetime(2021, 8, 20, 1, 2, 3, tzinfo=UTC)

    def rows(first: int, n: int) -> list[dict[str, object]]:
        return [{"id": first + i, "chain": 7, "at": at, "action": "test:insert", "outcome": "ok",
                 "details": {"n": i, "name": "Nguyễn"} if i else None, "prev_hash": "0" * 64, "hash": "f" * 64}
                for i in range(n)]

    db = Database(fresh_db)
    try:
        async with db.unit_of_work() as s:
            pg = await driver(s)
            assert [r[0] for r in await statement.fetch(pg, rows(1000, 1))] == [1000]
            assert [r[0] for r in await statement.fetch(pg, rows(2000, 3))] == [2000, 2001, 2002]
        async with db.unit_of_work() as s:
            found = (await s.execute(text(
                "SELECT id, details, at FROM audit_events WHERE chain = 7 ORDER BY id"))).all()
        assert [(r[0], r[1]) for r in found] == [(1000, None), (2000, None), (2001, {"n": 1, "name": "Nguyễn"}),
                                                 (2002, {"n": 2, "name": "Nguyễn"})]
        assert found[0][2] == at
    finally:
        await db.dispose()


async def test_driver_pool_commits_rolls_back_and_replaces_a_broken_connection(fresh_db: str) -> None:
    db = Database(fresh_db)
    try:
        async with db.unit_of_work() as s:
            await s.execute(text("CREATE TABLE scratch (name text)"))
        pool = db.driver_pool(2)
        async with pool.transaction() as pg:
            await pg.execute("INSERT INTO scratch VALUES ($1)", "committed")
            first = pg
        assert await _count(db, "committed") == 1
        with pytest.raises(ZeroDivisionError):
            async with pool.transaction() as pg:
                await pg.execute("INSERT INTO scratch VALUES ($1)", "rolled back")
                raise ZeroDivisionError
        assert await _count(db, "rolled back") == 0
        with pytest.raises(asyncpg.InterfaceError):  # the connection died mid-transaction: the batch fails
            async with pool.transaction() as pg:
                assert pg is first  # a healthy connection is kept after a rollback
                pg.terminate()
        async with pool.transaction() as pg:
            assert pg is not first and not pg.is_closed()
            await pg.execute("INSERT INTO scratch VALUES ($1)", "after a failure")
        assert await _count(db, "after a failure") == 1
    finally:
        await db.dispose()
    assert pg.is_closed()  # dispose closes the pool's connections
