"""Group commit for declarations (PostgreSQL): many requests' declarations, notices and audit events in one
transaction (`dancu.core.groupcommit`). The request checks, looks up and signs; the writer only inserts.

On SQLite there is no writer: a declaration is written in the request's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts import repository as accounts_repo
from dancu.audit import repository as audit_repo
from dancu.audit.service import Event, appending, chain_for
from dancu.core.db import Database
from dancu.core.driver import driver
from dancu.core.groupcommit import GroupCommit
from dancu.declarations import batch_repository as batch_repo
from dancu.notifications.service import Movement, finish_notices, prepare_notices

TokenUse = tuple[int, datetime]  # a bearer token's id and its last use, to stamp


@dataclass(frozen=True, slots=True)
class Issued:
    """A checked and signed declaration, ready to insert: its row (id included), notices and audit event,
    and the last-use stamp of the declarant's token when one is due (accounts.bearer)."""

    row: dict[str, Any]
    movement: Movement
    event: Event
    token_use: TokenUse | None = None


async def write_issued(session: AsyncSession, items: Sequence[Issued], pg: Any, _owned: None = None) -> list[bool]:
    """A batch in two statements (batch_repository.py), after the due token stamps (their own UPDATE, rows
    locked in id order), in the transaction of `pg` (the writer's own asyncpg connection; this writer claims
    nothing, so `_owned` is None); `session` only serves cached lookups."""
    used = dict(i.token_use for i in items if i.token_use is not None)
    if used:
        await accounts_repo.pg_touch_tokens(pg, used)
    chain = chain_for(session)
    event_ids = await audit_repo.pg_lock_and_reserve(pg, chain, len(items))
    notices = await prepare_notices(session, [i.movement for i in items])
    notice_ids = await batch_repo.write(pg, [i.row for i in items], notices.rows,
                                        appending([i.event for i in items], chain, event_ids))
    await finish_notices(session, notices, notice_ids, pg)
    return [True] * len(items)


def _failed(_exc: BaseException) -> bool:
    return False


async def _write_in_session(session: AsyncSession, items: Sequence[Issued]) -> list[bool]:
    """The same in a unit of work (the group-commit fallback when no driver pool is used)."""
    return await write_issued(session, items, await driver(session))


class DeclarationWriter(GroupCommit[Issued, bool]):
    def __init__(self, db: Database) -> None:
        super().__init__(db, _write_in_session, _failed, group_commit=True, write_pg=write_issued)


def get_writer(app: FastAPI) -> DeclarationWriter | None:
    """The app's writer on PostgreSQL (created on first use, in this worker's event loop); None on SQLite."""
    db: Database = app.state.db
    if db.is_sqlite:
        return None
    writer: DeclarationWriter | None = getattr(app.state, "declaration_writer", None)
    if writer is None or writer.db is not db:
        writer = DeclarationWriter(db)
        app.state.declaration_writer = writer
    return writer


async def shutdown(app: FastAPI) -> None:
    """Flush what is queued; for the app lifespan, before the database is disposed."""
    writer: DeclarationWriter | None = getattr(app.state, "declaration_writer", None)
    if writer is not None:
        await writer.aclose()
