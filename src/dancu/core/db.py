"""Engine, sessions and the declarative base shared by every domain."""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic_core import to_json
from sqlalchemy import JSON, DateTime, MetaData, Table, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from dancu.core.driver import READER_POOL_SIZE, READERS_KEY, DriverPool, release_reader

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC on both PostgreSQL and SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


AfterRollback = Callable[[AsyncSession], Awaitable[None]]


def after_rollback(session: AsyncSession, hook: AfterRollback) -> None:
    """Run `hook` in a new transaction if this unit of work is rolled back (e.g. keep a denial's audit)."""
    session.info.setdefault("after_rollback", []).append(hook)


@asynccontextmanager
async def transaction(session: AsyncSession) -> AsyncIterator[None]:
    """Commit on success; on failure roll back, then persist what must outlive the failure."""
    try:
        yield
    except BaseException:
        await session.rollback()
        hooks: list[AfterRollback] = session.info.pop("after_rollback", [])
        if hooks:
            for hook in hooks:
                await hook(session)
            await session.commit()
        raise
    else:
        session.info.pop("after_rollback", None)
        await session.commit()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide where transactions begin (so SAVEPOINTs and
    # transactional DDL work), and take the write lock up front to avoid SQLITE_BUSY upgrades.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


# Connections above pool_size are closed when returned and opened again on the next burst (a new backend, an SSL
# attempt): with 32 concurrent requests per worker and a pool of 10 that churn cost more than the requests.
# 25 kept plus 10 for bursts per process. With the writers' own connections (2 each for passages and
# declarations) and the reader pool (READER_POOL_SIZE) that is at most 47 per process, so two workers stay
# under PostgreSQL's default 100 connections. (Server processes take theirs from the settings,
# DANCU_DB_POOL_SIZE / DANCU_DB_MAX_OVERFLOW.)
POOL_SIZE = 25
MAX_OVERFLOW = 10


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", MAX_OVERFLOW)
    # No pre-ping (a round trip per checkout on the hot path); stale connections are recycled instead.
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


def sync_sqlite_pragmas(engine: Engine) -> None:
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)


_URLS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_key(session: AsyncSession) -> str:
    """The session's database URL as text: the key of per-database caches (rendered once per engine; rendering
    a URL costs more than the cache lookups it keys)."""
    engine = session.get_bind().engine
    key = _URLS.get(engine)
    if key is None:
        key = _URLS[engine] = str(engine.url)
    return key


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


_PG_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_M = TypeVar("_M", bound=Base)


def detached(cls: type[_M], values: Mapping[str, Any]) -> _M:
    """An instance of a mapped class holding these column values, built without the constructor's attribute
    events (~25x cheaper for a 30-column row): in no session, for reading only — a reply built from a row
    that a group-commit writer inserts, or a row fetched through the driver. Its attributes read as usual."""
    obj: _M = cls._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    obj.__dict__.update(values)
    return obj


def json_rows(value: object) -> str:
    """Rows as JSON text for a `json_populate_recordset` parameter, dates and datetimes in ISO 8601
    (pydantic's serialiser: a fraction of json.dumps)."""
    return to_json(value).decode()


class PgInsert:
    """A multi-row INSERT for asyncpg whose text does not depend on the number of rows: one array parameter
    per column, `INSERT ... SELECT * FROM unnest($1::type[], ...)`, so PostgreSQL prepares and plans it once
    per connection (a VALUES list of n rows is a new statement for every n). `tail` is appended as it is
    (ON CONFLICT ..., RETURNING ...)."""

    def __init__(self, table: Table, columns: Sequence[str] | None = None, tail: str = "") -> None:
        self.table, self.tail = table, tail
        self.columns = tuple(columns or (c.name for c in table.columns))
        self._sql: str | None = None
        self._json: tuple[bool, ...] = ()

    @property
    def sql(self) -> str:
        # Built at first use: a foreign key column takes its type from the referenced table, which may not be
        # imported yet when the module defining the statement is.
        if self._sql is None:
            types = [self.table.c[c].type for c in self.columns]
            self._json = tuple(isinstance(t, JSON) for t in types)
            arrays = ", ".join(f"${i}::{t.compile(dialect=_PG_DIALECT)}[]" for i, t in enumerate(types, 1))
            self._sql = (f"INSERT INTO {self.table.name} ({', '.join(self.columns)}) "
                         f"SELECT * FROM unnest({arrays}) {self.tail}")
        return self._sql

    def arrays(self, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        """The rows as one list per column (every row has every column; JSON values as their text)."""
        out = []
        for column, is_json in zip(self.columns, self._json, strict=True):
            values = [r[column] for r in rows]
            out.append([None if v is None else json.dumps(v) for v in values] if is_json else values)
        return out

    async def execute(self, pg: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        sql = self.sql
        await pg.execute(sql, *self.arrays(rows))

    async def fetch(self, pg: Any, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        sql = self.sql
        return list(await pg.fetch(sql, *self.arrays(rows)))


class Database:
    """Owns the engine and session factory of one app or CLI process."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        """`engine_options`: e.g. pool_size and max_overflow (PostgreSQL), passed to the engine."""
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # Same pool, no BEGIN/COMMIT round trips: for a hot path's lookups before a group-commit writer.
        self.reader = async_sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                         expire_on_commit=False, autoflush=False)
        self._driver_pools: list[DriverPool] = []
        self._readers: DriverPool | None = None  # driver connections of lookups sessions (PostgreSQL)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction, committed once at the edge (request, CLI command, job)."""
        async with self.sessionmaker() as session, transaction(session):
            yield session

    @asynccontextmanager
    async def lookups(self) -> AsyncIterator[AsyncSession]:
        """A session whose statements each commit on their own (PostgreSQL; a plain unit of work on SQLite):
        for a hot path that only reads, or whose writes a group-commit writer makes in its own transaction,
        it saves the BEGIN and COMMIT round trips. Nothing written in it is rolled back on an error."""
        if self.is_sqlite:
            async with self.unit_of_work() as session:
                yield session
            return
        if self._readers is None:
            self._readers = self.driver_pool(READER_POOL_SIZE)
        async with self.reader() as session:
            session.info[READERS_KEY] = self._readers
            healthy = True
            try:
                yield session
            except BaseException as exc:  # cancelled, perhaps mid-statement: the connection's state is unknown
                healthy = isinstance(exc, Exception)
                raise
            finally:
                release_reader(session, healthy=healthy)
                del session.info[READERS_KEY]  # a statement after the block takes no reader it cannot give back

    def driver_pool(self, size: int, claim: Callable[[Any], Awaitable[Any]] | None = None, *,
                    generic_plans: bool = False) -> DriverPool:
        """A new `DriverPool` of this database, closed with it (`dispose`)."""
        pool = DriverPool(self.engine, size, claim, generic_plans=generic_plans)
        self._driver_pools.append(pool)
        return pool

    async def dispose(self) -> None:
        pools, self._driver_pools, self._readers = self._driver_pools, [], None
        for pool in pools:
            await pool.close()
        await self.engine.dispose()
