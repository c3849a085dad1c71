"""The rules of a batch of passages, the same on the general path (SQLite) and the two-statement path
(PostgreSQL, passage_batch.py); the PostgreSQL path's all-or-nothing write and a real race between two
transactions inserting the same idempotency key."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from dancu.audit.models import AuditEvent
from dancu.audit.service import verify_chain
from dancu.checkpoints.models import Passage, PassageCount
from dancu.checkpoints.passages import Pending, prepare, write_batch
from dancu.checkpoints.recorder import Recorder
from dancu.checkpoints.schemas import PassageIn
from dancu.config import Settings
from dancu.core.db import Database, utcnow
from dancu.notifications.models import Notice
from tests.checkpoints.conftest import Scene, actor_of, make_declaration, passage, pendings_at, place_in
from tests.conftest import ENGINE
from tests.factories import make_person


async def count(session: AsyncSession, model: type[object]) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[arg-type]


async def pending(session: AsyncSession, scene: Scene, body: dict[str, object]) -> Pending:
    return prepare(PassageIn.model_validate(body), checkpoint_id=scene.checkpoint.id,
                   actor=await actor_of(session, scene.officer), keyring=scene.keyring, now=utcnow())


async def test_the_rules_inside_one_batch(session: AsyncSession, scene: Scene) -> None:
    other = await make_declaration(session, await make_person(session, full_name="Lê Văn Cường"), scene.keyring,
                                   destination=scene.destination)
    first = passage(scene.code)
    later = utcnow() + timedelta(seconds=5)
    bodies = [
        first,
        passage(other.pass_code),
        {**first},  # the same key again
        passage(scene.code, scanned_at=later.isoformat()),  # the same pass again, another key
        passage(other.pass_code, decision="refuse", reason="symptoms"),
        passage("VNT1:not-a-pass"),  # red, recorded as such
    ]
    outcomes = await write_batch(session, [await pending(session, scene, b) for b in bodies], utcnow())
    assert [(o.status, o.detail) for o in outcomes] == [
        ("created", "recorded"), ("created", "recorded"), ("duplicate", "idempotency_key_reused"),
        ("duplicate", "already_scanned"), ("created", "recorded"), ("created", "recorded"),
    ]
    assert outcomes[2].passage == outcomes[0].passage
    assert outcomes[3].passage is not None and outcomes[3].passage["id"] == outcomes[0].passage["id"]  # type: ignore[index]
    assert outcomes[5].passage is not None and outcomes[5].passage["verdict"] == "red"
    assert await count(session, Passage) == 4
    assert await count(session, Notice) == 4  # two confirmed travellers: a departure and an arrival each
    assert await session.scalar(select(func.sum(PassageCount.count))) == 4
    events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "passage:record"))).all()
    assert len(events) == 1 and sorted(events[0].details["passages"]) == sorted(  # type: ignore[index]
        o.passage["id"] for o in outcomes if o.status == "created" and o.passage)
    assert events[0].actor_id == scene.officer.id
    report = await verify_chain(session)
    assert report.ok, report.reason

    # The same batch again: every key was recorded, nothing new is written.
    again = await write_batch(session, [await pending(session, scene, b) for b in bodies], utcnow())
    assert [o.status for o in again] == ["duplicate"] * 6
    assert [o.passage["id"] for o in again if o.passage] == [
        o.passage["id"] for o in outcomes if o.passage]
    assert await count(session, Passage) == 4 and await count(session, Notice) == 4
    assert (await verify_chain(session)).ok


pg_only = pytest.mark.skipif(ENGINE != "postgresql", reason="the two-statement batch is PostgreSQL's")


@pg_only
async def test_a_write_with_a_taken_key_writes_nothing_else(session: AsyncSession, scene: Scene) -> None:
    from dancu.audit.service import Event, appending
    from dancu.checkpoints import batch_repository
    from dancu.core.driver import driver

    body = passage(scene.code)
    [created] = await write_batch(session, [await pending(session, scene, body)], utcnow())
    assert created.status == "created" and created.passage
    before = [await count(session, m) for m in (Passage, Notice, AuditEvent)], await session.scalar(
        select(func.sum(PassageCount.count)))
    recorded = await session.get(Passage, created.passage["id"])
    assert recorded is not None
    taken = {c: getattr(recorded, c) for c in batch_repository.PASSAGE_COLUMNS}
    taken["id"] = (await session.execute(text("SELECT nextval(pg_get_serial_sequence('passages', 'id'))"))).scalar()
    pg = await driver(session)
    ok, notice_ids = await batch_repository.write(
        pg, [taken], [], [], appending([Event(None, "passage:record")], 3, [10**12]))
    assert (ok, notice_ids) == (False, [])
    after = [await count(session, m) for m in (Passage, Notice, AuditEvent)], await session.scalar(
        select(func.sum(PassageCount.count)))
    assert after == before


@pg_only
async def test_a_key_inserted_by_another_transaction_meanwhile(fresh_db: str, settings: Settings) -> None:
    """Another process holds an uncommitted passage with one of the batch's keys: the batch's insert waits for
    it, finds the key taken, the batch's write fails whole (on the writer's own audit chain, one statement)
    and the batch is written item by item — the raced item answers as the replay it is, the others are
    recorded once."""
    db = Database(fresh_db)
    try:
        pendings = await pendings_at(db, await place_in(db, settings), 3)
        recorder = Recorder(db, group_commit=True)
        async with db.engine.connect() as other:
            trans = await other.begin()
            # The other process records the second passage first, and has not committed yet.
            [mine] = await write_batch(_session_on(other), [pendings[1]], utcnow())
            assert mine.status == "created" and mine.passage
            writing = asyncio.ensure_future(recorder.submit(pendings))
            await asyncio.sleep(0.5)  # the batch's insert now waits on the other's uncommitted key
            assert not writing.done()
            await trans.commit()
            outcomes = await writing
        assert [(o.status, o.detail) for o in outcomes] == [
            ("created", "recorded"), ("duplicate", "idempotency_key_reused"), ("created", "recorded")]
        assert outcomes[1].passage is not None and outcomes[1].passage["id"] == mine.passage["id"]
        assert recorder.batches == 3  # the batch of three failed whole, then each item was written alone
        async with db.unit_of_work() as s:
            assert await count(s, Passage) == 3 and await count(s, Notice) == 6
            assert (await verify_chain(s)).ok
        await recorder.aclose()
    finally:
        await db.dispose()


def _session_on(conn: AsyncConnection) -> AsyncSession:
    """A session inside the connection's open transaction (which the caller commits)."""
    return AsyncSession(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
