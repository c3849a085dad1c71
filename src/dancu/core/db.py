"""Engine, sessions and the declarative base shared by every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

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
# 25 kept plus 15 for bursts per process; two workers stay well under PostgreSQL's default 100 connections.
# (Server processes take theirs from the settings, DANCU_DB_POOL_SIZE / DANCU_DB_MAX_OVERFLOW.)
POOL_SIZE = 25
MAX_OVERFLOW = 15


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


class Database:
    """Owns the engine and session factory of one app or CLI process."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        """`engine_options`: e.g. pool_size and max_overflow (PostgreSQL), passed to the engine."""
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction, committed once at the edge (request, CLI command, job)."""
        async with self.sessionmaker() as session, transaction(session):
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
