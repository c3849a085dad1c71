"""Database.lookups: on PostgreSQL a session without BEGIN/COMMIT round trips (the hot paths' reads before a
group-commit writer); on SQLite an ordinary unit of work."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from dancu.core.db import Database, driver
from tests.conftest import ENGINE


async def _sent(db: Database, lookups: bool) -> list[str]:
    """What asyncpg's query logger saw for two SELECTs in a lookups session or in a unit of work."""
    seen: list[str] = []

    def log(record: Any) -> None:
        seen.append(record.query.strip().lower())

    async with (db.lookups() if lookups else db.unit_of_work()) as s:
        conn = await (await s.connection()).get_raw_connection()
        pg = conn.dbapi_connection._connection
        pg.add_query_logger(log)
        try:
            assert (await s.execute(text("SELECT 41 + 1"))).scalar_one() == 42
            await (await driver(s)).fetchval("SELECT 1")  # a hot-path statement straight to asyncpg, too
        finally:
            pg.remove_query_logger(log)
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
