"""Group commit for passages: many scanning requests, one transaction (`dancu.core.groupcommit`).

A 201 is never sent before its passage is durable. Passages of concurrent batches (other processes', or
this one's other batch in flight) are not checked against each other for "already scanned" until they are
committed: two scans of one pass at one checkpoint within the same ~20 ms may both be recorded as
confirmed. Idempotency keys never double (a unique index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.audit.repository import pg_claim_chain
from dancu.checkpoints.passage_batch import write_batch_pg
from dancu.checkpoints.passages import Outcome, Pending, pg_batchable, write_batch
from dancu.core.db import Database, utcnow
from dancu.core.groupcommit import GroupCommit


async def _write(session: AsyncSession, pendings: Sequence[Pending]) -> list[Outcome]:
    return await write_batch(session, pendings, utcnow())


async def _write_pg(session: AsyncSession, pendings: Sequence[Pending], pg: Any, chain: int | None) -> list[Outcome]:
    return await write_batch_pg(session, pendings, utcnow(), pg, owned=chain)


def _failed(_exc: BaseException) -> Outcome:
    """A write that failed (database down, a constraint the checks missed) is an error outcome for that
    item alone; the client retries it with the same idempotency key."""
    return Outcome("error", "not_recorded", None, "The passage could not be recorded: send it again.")


class Recorder(GroupCommit[Pending, Outcome]):
    def __init__(self, db: Database, *, group_commit: bool) -> None:
        super().__init__(db, _write, _failed, group_commit=group_commit, write_pg=_write_pg,
                         pg_batchable=pg_batchable, claim=pg_claim_chain)


def get_recorder(app: FastAPI) -> Recorder:
    """The app's recorder, created on first use (inside the running event loop of this worker)."""
    recorder: Recorder | None = getattr(app.state, "passage_recorder", None)
    db: Database = app.state.db
    if recorder is None or recorder.db is not db:
        recorder = Recorder(db, group_commit=not db.is_sqlite)
        app.state.passage_recorder = recorder
    return recorder


async def shutdown(app: FastAPI) -> None:
    """Flush what is queued; for the app lifespan, before the database is disposed."""
    recorder: Recorder | None = getattr(app.state, "passage_recorder", None)
    if recorder is not None:
        await recorder.aclose()
