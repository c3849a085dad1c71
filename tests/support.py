"""Database helpers shared by the test suite (no mocks: real SQLite files and PostgreSQL databases)."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from dancu.core.db import Database, transaction
from dancu.core.driver import DriverPool, driver
from dancu.db import upgrade
from dancu.units.service import load_official_units

_template_lock = threading.Lock()
_templates: dict[str, str] = {}


def _pg_admin_dsn(pg_url: str) -> str:
    u = make_url(pg_url)
    return f"host={u.host or '127.0.0.1'} port={u.port or 5432} user={u.username or 'postgres'} dbname=postgres"


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


async def _load_units(url: str) -> None:
    db = Database(url)
    async with db.unit_of_work() as s:
        await load_official_units(s)
    await db.dispose()


def _migrate_and_load(url: str) -> None:
    upgrade(url)
    # asyncio.run needs a thread without a running loop (tests may call this from async fixtures).
    err: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(_load_units(url))
        except BaseException as exc:
            err.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if err:
        raise err[0]


def _template_for(url: str, pg_url: str) -> str:
    """A migrated, unit-loaded template per engine per process; new databases are copies of it."""
    key = "pg" if url.startswith("postgresql") else "sqlite"
    with _template_lock:
        if key not in _templates:
            if key == "pg":
                name = make_url(url).database + "_tpl"
                tpl = make_url(url).set(database=name).render_as_string(hide_password=False)
                _create_pg(tpl, pg_url)
            else:
                tpl = str(_sqlite_path(url).with_name("template.sqlite3"))
                tpl = f"sqlite+aiosqlite:///{tpl}"
            _migrate_and_load(tpl)
            _templates[key] = tpl
        return _templates[key]


def _create_pg(url: str, pg_url: str, template: str | None = None) -> None:
    name = make_url(url).database
    with psycopg.connect(_pg_admin_dsn(pg_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def build_database(url: str, pg_url: str) -> None:
    tpl = _template_for(url, pg_url)
    if url.startswith("postgresql"):
        _create_pg(url, pg_url, template=make_url(tpl).database)
    else:
        shutil.copyfile(_sqlite_path(tpl), _sqlite_path(url))


def drop_database(url: str, pg_url: str) -> None:
    if url.startswith("postgresql"):
        name = make_url(url).database
        with psycopg.connect(_pg_admin_dsn(pg_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(_sqlite_path(url)) + suffix).unlink(missing_ok=True)


def drop_templates(pg_url: str) -> None:
    for url in list(_templates.values()):
        drop_database(url, pg_url)
    _templates.clear()


class BoundDriverPool(DriverPool):
    """A group-commit writer's driver connections (`DriverPool`) for a `TestDatabase`: inside a test's
    transaction, the test connection's driver (a transaction on it is a savepoint), so the writer sees the
    test's rows and its writes roll back with them; outside one, connections of its own as in production."""

    def __init__(self, db: TestDatabase, size: int, claim: Callable[[Any], Awaitable[Any]] | None = None, *,
                 generic_plans: bool = False) -> None:
        super().__init__(db.engine, size, claim, generic_plans=generic_plans)
        self.db = db

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """Inside a test's transaction, the test connection's driver (it owns no audit chain: `claimed` is None,
        so a writer opens a transaction on it, a savepoint here); outside one, as in production."""
        conn = self.db._conn
        if conn is None:
            async with super().connection() as pg:
                yield pg
            return
        yield (await conn.get_raw_connection()).driver_connection


class TestDatabase(Database):
    """A Database whose sessions all join one outer transaction that each test rolls back."""

    __test__ = False

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._conn: AsyncConnection | None = None

    @asynccontextmanager
    async def bound(self) -> AsyncIterator[AsyncSession]:
        async with self.engine.connect() as conn:
            trans = await conn.begin()
            self._conn = conn
            try:
                async with self.session() as s:
                    yield s
            finally:
                self._conn = None
                await trans.rollback()

    def session(self) -> AsyncSession:
        assert self._conn is not None, "no test transaction is open"
        return AsyncSession(
            bind=self._conn, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        if self._conn is None:
            async with super().unit_of_work() as s:
                yield s
            return
        async with self.session() as s, transaction(s):
            yield s

    def driver_pool(self, size: int, claim: Callable[[Any], Awaitable[Any]] | None = None, *,
                    generic_plans: bool = False) -> DriverPool:
        pool = BoundDriverPool(self, size, claim, generic_plans=generic_plans)
        self._driver_pools.append(pool)
        return pool

    @asynccontextmanager
    async def lookups(self) -> AsyncIterator[AsyncSession]:
        if self._conn is None:  # not in a test transaction: the real autocommit session
            async with super().lookups() as s:
                yield s
            return
        async with self.unit_of_work() as s:  # statements inside the test's transaction, as savepoints
            yield s


@asynccontextmanager
async def statements_sent(database: Database, session: AsyncSession) -> AsyncIterator[list[str]]:
    """Every statement this session's connection sends meanwhile, lower-cased: through SQLAlchemy, and (on
    PostgreSQL) straight to asyncpg (`core.driver.driver`, the hot paths)."""
    statements: list[str] = []

    def through_sqlalchemy(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.lower())

    def through_asyncpg(record: Any) -> None:
        statements.append(record.query.lower())

    event.listen(database.engine.sync_engine, "before_cursor_execute", through_sqlalchemy)
    pg = await driver(session) if database.engine.dialect.name == "postgresql" else None
    if pg is not None:
        pg.add_query_logger(through_asyncpg)
    try:
        yield statements
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon after each statement
    finally:
        if pg is not None:
            pg.remove_query_logger(through_asyncpg)
        event.remove(database.engine.sync_engine, "before_cursor_execute", through_sqlalchemy)
