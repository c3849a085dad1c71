"""The hot paths' way to PostgreSQL below SQLAlchemy: `driver(session)` (the asyncpg connection for a
session's statements), `DriverPool` (asyncpg connections of a group-commit writer's own, or of the lookups
sessions' reader pool) and the arguments they connect with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

READERS_KEY = "dancu.readers"  # session.info keys of a lookups session: its database's reader pool,
_READER = "dancu.reader"  # and the connection it took from it
# Per process. A lookups session holds its reader connection only until it hands its writes to a group-commit
# writer (`release_reader`), so a few serve many concurrent requests; waiting for one is cheap.
READER_POOL_SIZE = 8


def release_reader(session: AsyncSession, *, healthy: bool = True) -> None:
    """Give a lookups session's reader connection back now (a request about to wait for a group commit);
    a later `driver(session)` takes one again. Nothing for other sessions. Not `healthy`: closed instead."""
    pg = session.info.pop(_READER, None)
    if pg is not None:
        session.info[READERS_KEY].release(pg, healthy)


def driver_connect_args(engine: AsyncEngine) -> dict[str, Any]:
    """asyncpg.connect()'s arguments for the engine's URL, as SQLAlchemy's asyncpg dialect connects: its own
    URL options (`prepared_statement_cache_size`, ...) are SQLAlchemy's, translated or left out."""
    args = dict(engine.dialect.create_connect_args(engine.url)[1])
    cache_size = args.pop("prepared_statement_cache_size", None)
    if cache_size is not None:
        args["statement_cache_size"] = int(cache_size)
    for sqlalchemy_only in ("prepared_statement_name_func", "async_creator_fn"):
        args.pop(sqlalchemy_only, None)
    return args


class DriverPool:
    """A few asyncpg connections of a group-commit writer's own, outside SQLAlchemy's pool (PostgreSQL only).

    A batch written through a unit of work pays for the session, the pool checkout and check-in and the
    greenlet bridge on top of BEGIN and COMMIT: ~280 µs of CPU per batch on this project's machine against
    ~90 µs for the same BEGIN and COMMIT on a connection of asyncpg's own (docs/benchmarks.md), at several
    batches per scan and declaration second. A writer has at most `size` batches in flight, so it keeps at
    most `size` connections, opened on first use and kept; one that fails mid-transaction is closed and
    replaced. Statements sent here see no SQLAlchemy type processing: they take and return driver values.

    `claim(conn)`, when given, runs once on each new connection and its answer is kept for the connection's
    life (`claimed(conn)`): a writer claims an audit chain of its own this way (`audit.repository`).

    `generic_plans`: the connections run their prepared statements on generic plans (`plan_cache_mode =
    force_generic_plan`). For a writer's few batch statements: with the default, PostgreSQL planned them
    afresh on every run (custom plans), ~40 % of the server's CPU for a batch of 8 passages on analysed
    tables (docs/benchmarks.md, eleventh session). A generic plan is remade whenever an ANALYZE changes the
    tables' statistics, as autovacuum does within a minute of a new system's first writes."""

    def __init__(self, engine: AsyncEngine, size: int, claim: Callable[[Any], Awaitable[Any]] | None = None, *,
                 generic_plans: bool = False) -> None:
        self._connect_args = driver_connect_args(engine)
        if generic_plans:
            settings = dict(self._connect_args.get("server_settings") or {})
            settings["plan_cache_mode"] = "force_generic_plan"
            self._connect_args["server_settings"] = settings
        self._free: list[Any] = []
        self._slots = asyncio.Semaphore(size)
        self._open: set[Any] = set()
        self._claim = claim
        self._claimed: dict[Any, Any] = {}

    async def _connection(self) -> Any:
        while self._free:
            conn = self._free.pop()
            if not conn.is_closed():
                return conn
            self._forget(conn)
        import asyncpg

        conn = await asyncpg.connect(**self._connect_args)
        self._open.add(conn)
        if self._claim is not None:
            try:
                self._claimed[conn] = await self._claim(conn)
            except BaseException:
                self._forget(conn)
                conn.terminate()
                raise
        return conn

    def _forget(self, conn: Any) -> None:
        self._open.discard(conn)
        self._claimed.pop(conn, None)

    def claimed(self, conn: Any) -> Any:
        """What `claim` answered for this connection (None without a claim, or for a connection not of this
        pool)."""
        return self._claimed.get(conn)

    async def acquire(self) -> Any:
        """A connection of the pool (waits while all `size` are out); give it back with `release`."""
        await self._slots.acquire()
        try:
            return await self._connection()
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: Any, healthy: bool = True) -> None:
        """Back to the pool; closed instead when it broke, is inside a transaction, or `healthy` is False."""
        try:
            if healthy and not conn.is_closed() and not conn.is_in_transaction():
                self._free.append(conn)
            else:
                self._forget(conn)
                conn.terminate()
        finally:
            self._slots.release()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """An asyncpg connection outside any transaction (each statement commits on its own, unless the block
        opens one); closed instead of kept when the block leaves it broken or inside a transaction, or is
        cancelled (perhaps mid-statement)."""
        conn = await self.acquire()
        healthy = True
        try:
            yield conn
        except BaseException as exc:
            healthy = isinstance(exc, Exception)
            raise
        finally:
            self.release(conn, healthy)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """An asyncpg connection in a transaction that commits when the block ends and rolls back if it
        raises."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def close(self) -> None:
        conns, self._open, self._free, self._claimed = self._open, set(), [], {}
        for conn in conns:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:  # already broken, or another event loop's: drop it
                conn.terminate()


async def driver(session: AsyncSession) -> Any:
    """The asyncpg connection under this session (PostgreSQL only), inside the session's transaction.

    For the hot paths (checkpoint batches, declarations, audit appends): a statement sent through the
    session costs ~3x the CPU of the same statement sent to asyncpg directly (parameter processing, result
    wrapping, the greenlet bridge). Statements sent here run in the session's transaction, so they commit or
    roll back with it. SQLAlchemy's asyncpg adapter begins its transaction lazily at its first statement;
    that is done here when nothing has been sent through the session yet (the adapter exposes no public
    way to begin it: `_start_transaction` is what its own cursor calls; tests/core/test_driver.py holds the
    behaviour).

    In a `Database.lookups()` session (autocommit) it is instead a connection of the database's reader pool,
    taken at the first call and given back when the session ends or `release_reader` is called: checking a
    connection out of SQLAlchemy's pool for the session cost ~200 µs of CPU per request (docs/benchmarks.md),
    a reader pool's next to nothing. Both run each statement in a transaction of its own."""
    readers: DriverPool | None = session.info.get(READERS_KEY)
    if readers is not None:  # a lookups session: a connection of the reader pool, taken at first use
        pg = session.info.get(_READER)
        if pg is None:
            pg = await readers.acquire()
            if session.info.get(_READER) is not None:  # another task of this session took one meanwhile
                readers.release(pg)
            else:
                session.info[_READER] = pg
        return session.info[_READER]
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    if adapter._transaction is None and adapter.isolation_level != "autocommit":
        await adapter._start_transaction()
    return raw.driver_connection
