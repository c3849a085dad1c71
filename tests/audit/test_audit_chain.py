"""The audit log is append-only and hash-chained: edits and deletions are detected."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.audit.models import AuditEvent
from dancu.audit.service import record_event, verify_chain


async def _three(session: AsyncSession) -> list[int]:
    return [await record_event(session, None, "test:event", details={"n": i}) for i in range(3)]


async def test_intact_chain_verifies(session: AsyncSession) -> None:
    await _three(session)
    report = await verify_chain(session)
    assert report.ok and report.checked >= 3


async def test_edited_event_is_detected(session: AsyncSession) -> None:
    events = await _three(session)
    await session.execute(update(AuditEvent).where(AuditEvent.id == events[1]).values(purpose="edited"))
    session.expire_all()
    report = await verify_chain(session)
    assert not report.ok and report.first_bad_id == events[1] and "edited" in (report.reason or "")


async def test_deleted_event_is_detected(session: AsyncSession) -> None:
    events = await _three(session)
    await session.execute(delete(AuditEvent).where(AuditEvent.id == events[1]))
    session.expire_all()
    report = await verify_chain(session)
    assert not report.ok and report.first_bad_id == events[2] and "deleted" in (report.reason or "")


async def test_concurrent_writers_keep_every_chain_intact(fresh_db: str) -> None:
    """Many transactions at once (parallel chains on PostgreSQL): no event lost, every chain verifies."""
    import asyncio

    from sqlalchemy import func, select

    from dancu.core.db import Database

    db = Database(fresh_db)

    async def writer(n: int) -> None:
        async with db.unit_of_work() as s:
            for i in range(3):
                await record_event(s, None, "test:concurrent", details={"writer": n, "i": i})

    try:
        await asyncio.gather(*(writer(n) for n in range(20)))
        async with db.sessionmaker() as s:
            assert await s.scalar(select(func.count()).select_from(AuditEvent)) == 60
            report = await verify_chain(s)
            assert report.ok and report.checked == 60, report
    finally:
        await db.dispose()


async def test_a_batch_of_events_extends_the_chain_in_order(session: AsyncSession) -> None:
    from dancu.audit.service import Event, record_events

    first = await record_event(session, None, "test:before")
    ids = await record_events(session, [Event(None, "test:batch", details={"n": i}) for i in range(3)])
    last = await record_event(session, None, "test:after")
    assert first < ids[0] < ids[1] < ids[2] < last
    stored = (await session.scalars(select(AuditEvent).where(AuditEvent.id.in_(ids)).order_by(AuditEvent.id))).all()
    assert [e.details for e in stored] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    report = await verify_chain(session)
    assert report.ok, report
