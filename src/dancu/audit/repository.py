"""Queries of the audit log. Only this module builds audit queries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, func, select, text
from sqlalchemy import insert as insert_stmt
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.audit.models import AuditEvent
from dancu.core.db import PgInsert, driver

GENESIS = "0" * 64
# An arbitrary constant naming the audit chain's advisory lock on PostgreSQL.
_CHAIN_LOCK_KEY = 0x6175646974  # "audit"


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def lock_chain_and_reserve(session: AsyncSession, chain: int, n: int = 1) -> tuple[str, list[int]]:
    """Lock one chain until commit; return its last hash and the ids for the next `n` events (ascending).

    Two statements on purpose: under READ COMMITTED the second statement's snapshot is taken after
    the lock is granted, so it sees the event committed by the previous holder.
    """
    if is_postgresql(session):
        pg = await driver(session)  # every audited request runs these: straight to asyncpg
        await pg.execute(_LOCK_PG, _CHAIN_LOCK_KEY + chain)
        rows = await pg.fetch(_HEAD_PG, chain, n)
        return rows[0][0] or GENESIS, sorted(int(r[1]) for r in rows)
    # SQLite: every write transaction already holds the database's write lock (BEGIN IMMEDIATE).
    head, first = (await session.execute(_HEAD_SQLITE, {"c": chain})).one()
    return head or GENESIS, list(range(int(first), int(first) + n))


# Built once (every audited request runs them). PostgreSQL's are sent to asyncpg as they are.
_LOCK_PG = "SELECT pg_advisory_xact_lock($1::bigint)"
_HEAD_PG = (
    "SELECT (SELECT hash FROM audit_events WHERE chain = $1::smallint ORDER BY id DESC LIMIT 1), "
    "nextval(pg_get_serial_sequence('audit_events', 'id')) FROM generate_series(1, $2::int)"
)
_HEAD_SQLITE = text(
    "SELECT (SELECT hash FROM audit_events WHERE chain = :c ORDER BY id DESC LIMIT 1), "
    "(SELECT coalesce(max(id), 0) + 1 FROM audit_events)"
)
_INSERT = insert_stmt(cast(Table, AuditEvent.__table__))


_INSERT_PG = PgInsert(cast(Table, AuditEvent.__table__))


async def insert(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Event rows (Core, not the ORM: no objects to track); one multi-row statement."""
    if is_postgresql(session):
        await _INSERT_PG.execute(await driver(session), rows)
        return
    await session.execute(_INSERT, [dict(r) for r in rows])


async def chains(session: AsyncSession) -> list[int]:
    return list((await session.scalars(select(AuditEvent.chain).distinct().order_by(AuditEvent.chain))).all())


async def iter_chain(session: AsyncSession, chain: int, batch: int = 5000) -> AsyncIterator[AuditEvent]:
    last_id = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.chain == chain, AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        last_id = rows[-1].id


async def for_person(
    session: AsyncSession, person_id: int, *, staff_only: bool, offset: int, limit: int
) -> tuple[Sequence[AuditEvent], int]:
    where = [AuditEvent.person_id == person_id]
    if staff_only:
        where.append(AuditEvent.actor_role.is_not(None))
        where.append(AuditEvent.actor_role != "citizen")
    total = await session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    rows = (
        await session.scalars(
            select(AuditEvent).where(*where).order_by(AuditEvent.id.desc()).offset(offset).limit(limit)
        )
    ).all()
    return rows, total


async def count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(AuditEvent)) or 0
