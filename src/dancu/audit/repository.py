"""Queries of the audit log. Only this module builds audit queries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, func, select, text
from sqlalchemy import insert as insert_stmt
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.audit.models import AuditEvent
from dancu.core.db import PgInsert, is_postgresql
from dancu.core.driver import driver

GENESIS = "0" * 64
# An arbitrary constant naming the audit chain's advisory lock on PostgreSQL.
_CHAIN_LOCK_KEY = 0x6175646974  # "audit"


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


# Fragments for a statement that appends events as part of a larger write (PostgreSQL, group commit): the
# transaction's first statement takes the chain's lock and reserves the ids (`pg_lock_from`, `pg_reserve_ids`);
# a later one carries `pg_append_ctes`, which reads the chain's head in its own snapshot (taken after the lock,
# so it sees the previous holder's commit) and computes each hash as `chain_hash` does:
# sha256(prev_hash + "\n" + canonical JSON), hex. `dancu audit verify` checks them in Python.
def pg_lock_key(chain: int) -> int:
    return _CHAIN_LOCK_KEY + chain


def pg_lock_from(key: str, *, lock: bool = True) -> str:
    """A FROM item that takes the chain's lock (parameter `key`: `pg_lock_key(chain)`) before the target list,
    so ids reserved in that list come after the lock. `lock=False`, for a connection that owns its chain
    (`pg_claim_chain`): the same parameter, no lock."""
    if not lock:
        return f"(SELECT {key}::bigint) AS audit_chain_owned"
    return f"(SELECT pg_advisory_xact_lock({key}::bigint)) AS audit_lock"


# Chains 0 .. SHARED_CHAINS-1 are shared: an appender locks one until its commit (`lock_chain_and_reserve`,
# `pg_lock_from`). The next WRITER_CHAINS are each owned by one group-commit writer's connection for as long
# as it lives: the only appender to its chain, it needs no lock, so a batch can be statements that commit on
# their own instead of a transaction (no BEGIN and COMMIT round trips). Its ids are reserved by one
# connection, one batch after the other, so they ascend along the chain as `verify_chain` walks it.
SHARED_CHAINS = 8
WRITER_CHAINS = 64
_CLAIM_PG = "SELECT pg_try_advisory_lock($1::bigint)"


async def pg_claim_chain(pg: Any) -> int | None:
    """Make a chain this asyncpg connection's own until it closes (a session-level advisory lock: a
    connection that dies gives it up with its backend); None when every writer chain is taken."""
    for chain in range(SHARED_CHAINS, SHARED_CHAINS + WRITER_CHAINS):
        if await pg.fetchval(_CLAIM_PG, pg_lock_key(chain)):
            return chain
    return None


def pg_reserve_ids(n: str) -> str:
    """An expression: `n` new event ids, ascending."""
    return (f"(SELECT array_agg(nextval(pg_get_serial_sequence('audit_events', 'id'))) "
            f"FROM generate_series(1, {n}::int))")


_PG_LOCK_AND_RESERVE = f"SELECT {pg_reserve_ids('$2')} FROM {pg_lock_from('$1')}"


async def pg_lock_and_reserve(pg: Any, chain: int, n: int) -> list[int]:
    """The first statement of such a transaction when it has nothing else to ask: lock `chain` until commit,
    and the ids for the next `n` events, ascending."""
    ids = await pg.fetchval(_PG_LOCK_AND_RESERVE, pg_lock_key(chain), n)
    return sorted(int(i) for i in ids)


_APPEND_COLUMNS = ", ".join(c.name for c in AuditEvent.__table__.columns if c.name not in ("prev_hash", "hash"))


def pg_append_ctes(rows: str, canonical: str, chain: str, when: str) -> str:
    """CTEs (for a WITH RECURSIVE statement) inserting the events whose rows are the JSON array `rows` and
    whose canonical bytes are the bytea[] `canonical`, chained after the head of `chain`, if `when` is true."""
    chained = ", ".join(f"r.{c}" for c in _APPEND_COLUMNS.split(", "))
    return f"""audit_head AS (
  SELECT coalesce((SELECT hash FROM audit_events WHERE chain = {chain}::smallint ORDER BY id DESC LIMIT 1),
                  '{GENESIS}')::varchar AS hash
), audit_rows AS (
  SELECT r.*, c.canonical FROM json_populate_recordset(NULL::audit_events, {rows}::json) WITH ORDINALITY AS r
  JOIN unnest({canonical}::bytea[]) WITH ORDINALITY AS c(canonical, i) ON c.i = r.ordinality
), audit_chain(i, prev_hash, hash) AS (
  SELECT 0::bigint, NULL::varchar, hash FROM audit_head
  UNION ALL
  SELECT n.ordinality, c.hash,
         encode(sha256(convert_to(c.hash, 'UTF8') || '\x0a'::bytea || n.canonical), 'hex')::varchar
  FROM audit_chain c JOIN audit_rows n ON n.ordinality = c.i + 1
), audit_insert AS (
  INSERT INTO audit_events ({_APPEND_COLUMNS}, prev_hash, hash)
  SELECT {chained}, c.prev_hash, c.hash FROM audit_rows r JOIN audit_chain c ON c.i = r.ordinality WHERE {when}
  RETURNING id
)"""


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
