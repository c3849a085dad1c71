"""Passage batches on PostgreSQL on a writer connection that owns an audit chain: two statements that commit on
their own (no BEGIN or COMMIT), a valid hash chain across writers of several processes, deliveries in a
transaction when webhooks are active, and the locked shared chains when no writer chain is free."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select

from dancu.accounts.permissions import Role
from dancu.audit import repository as audit_repo
from dancu.audit.models import AuditEvent
from dancu.audit.service import record_event, verify_chain
from dancu.checkpoints.models import Passage
from dancu.checkpoints.recorder import Recorder
from dancu.config import Settings
from dancu.core.db import Database, utcnow
from dancu.core.driver import driver_connect_args
from dancu.notifications.models import Notice, WebhookDelivery
from dancu.notifications.schemas import WebhookCreate
from dancu.notifications.webhooks import create_webhook
from tests.checkpoints.conftest import actor_of, pendings_at, place_in
from tests.conftest import ENGINE
from tests.factories import HANOI_COMMUNE, make_account, make_person

pytestmark = pytest.mark.skipif(ENGINE != "postgresql", reason="writer connections are PostgreSQL's")


def _writer_connection(recorder: Recorder) -> Any:
    pool = recorder._pg
    assert pool is not None and pool._free, "the recorder has written a batch on a connection of its own"
    return pool._free[-1]


def _logged(conn: Any) -> list[str]:
    seen: list[str] = []
    conn.add_query_logger(lambda record: seen.append(record.query.strip().lower()))
    return seen


async def test_batches_commit_without_begin_on_an_owned_chain(fresh_db: str, settings: Settings) -> None:
    db = Database(fresh_db)
    try:
        place = await place_in(db, settings)
        pendings = await pendings_at(db, place, 6)
        recorder = Recorder(db, group_commit=True)
        assert [o.status for o in await recorder.submit(pendings[:1])] == ["created"]
        conn = _writer_connection(recorder)
        chain = recorder._pg.claimed(conn)  # type: ignore[union-attr]
        assert chain is not None and chain >= audit_repo.SHARED_CHAINS
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"  # a writer's few statements
        seen = _logged(conn)
        assert [o.status for o in await recorder.submit(pendings[1:])] == ["created"] * 5
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon after each statement
        assert seen and not any(q.startswith(("begin", "commit", "rollback")) for q in seen), seen
        assert not conn.is_in_transaction()
        async with db.unit_of_work() as s:
            assert await s.scalar(select(func.count()).select_from(Passage)) == 6
            assert await s.scalar(select(func.count()).select_from(Notice)) == 12
            chains = set((await s.scalars(select(AuditEvent.chain).where(AuditEvent.action == "passage:record"))).all())
            assert chains == {chain}
            assert (await verify_chain(s)).ok
        await recorder.aclose()
    finally:
        await db.dispose()


async def test_writers_of_several_processes_each_own_a_chain_and_the_chains_verify(
    fresh_db: str, settings: Settings
) -> None:
    """Two databases (as two server processes) with a recorder each, batches written concurrently, and
    other audited work on the shared chains meanwhile: every chain verifies."""
    one, two = Database(fresh_db), Database(fresh_db)
    try:
        place = await place_in(one, settings)
        pendings = await pendings_at(one, place, 40)
        recorders = [Recorder(one, group_commit=True), Recorder(two, group_commit=True)]

        async def audited(i: int) -> None:  # other audited work, on the shared chains
            async with (one if i % 2 else two).unit_of_work() as s:
                await record_event(s, place.actor, "person:read", purpose="contact_tracing", subject_id=i)

        await asyncio.gather(*(recorders[i % 2].submit([p]) for i, p in enumerate(pendings)),
                             *(audited(i) for i in range(20)))
        owned = {r._pg.claimed(c) for r in recorders for c in r._pg._open}  # type: ignore[union-attr]
        assert None not in owned and len(owned) >= 2 and min(owned) >= audit_repo.SHARED_CHAINS
        async with one.unit_of_work() as s:
            assert await s.scalar(select(func.count()).select_from(Passage)) == 40
            used = set((await s.scalars(select(AuditEvent.chain).where(AuditEvent.action == "passage:record"))).all())
            assert used <= owned
            shared = set((await s.scalars(select(AuditEvent.chain).where(AuditEvent.action == "person:read"))).all())
            assert shared and max(shared) < audit_repo.SHARED_CHAINS
            report = await verify_chain(s)
            assert report.ok, report.reason
        for r in recorders:
            await r.aclose()
    finally:
        await one.dispose()
        await two.dispose()


async def test_with_active_webhooks_the_writes_and_deliveries_share_a_transaction(
    fresh_db: str, settings: Settings
) -> None:
    db = Database(fresh_db)
    try:
        place = await place_in(db, settings)
        async with db.unit_of_work() as s:
            admin = await actor_of(s, await make_account(s, Role.ADMIN, "VN"))
            hook = await create_webhook(s, admin, WebhookCreate(url="https://dest.example/h",
                                                                unit_code=place.destination), allow_loopback_http=True)
        pendings = await pendings_at(db, place, 2)
        recorder = Recorder(db, group_commit=True)
        await recorder.submit(pendings[:1])
        seen = _logged(_writer_connection(recorder))
        [outcome] = await recorder.submit(pendings[1:])
        await asyncio.sleep(0)
        assert outcome.status == "created" and outcome.passage
        assert any(q.startswith("begin") for q in seen) and any(q.startswith("commit") for q in seen), seen
        async with db.unit_of_work() as s:
            arrival = await s.scalar(select(Notice.id).where(Notice.passage_id == outcome.passage["id"],
                                                             Notice.kind == "arrival"))
            deliveries = (await s.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.notice_id))).all()
            assert (hook.id, arrival) in [tuple(d) for d in deliveries]
            assert (await verify_chain(s)).ok
        await recorder.aclose()
    finally:
        await db.dispose()


async def test_when_no_writer_chain_is_free_a_batch_locks_a_shared_chain(fresh_db: str, settings: Settings) -> None:
    db = Database(fresh_db)
    holder = await asyncpg.connect(**driver_connect_args(db.engine))
    try:
        place = await place_in(db, settings)
        pendings = await pendings_at(db, place, 3)
        for chain in range(audit_repo.SHARED_CHAINS, audit_repo.SHARED_CHAINS + audit_repo.WRITER_CHAINS):
            assert await holder.fetchval("SELECT pg_try_advisory_lock($1::bigint)", audit_repo.pg_lock_key(chain))
        recorder = Recorder(db, group_commit=True)
        assert [o.status for o in await recorder.submit(pendings)] == ["created"] * 3
        assert recorder._pg.claimed(_writer_connection(recorder)) is None  # type: ignore[union-attr]
        async with db.unit_of_work() as s:
            [chain] = (await s.scalars(select(AuditEvent.chain).where(AuditEvent.action == "passage:record"))).all()
            assert chain < audit_repo.SHARED_CHAINS
            assert (await verify_chain(s)).ok
        await recorder.aclose()
    finally:
        await holder.close()
        await db.dispose()


async def test_deliveries_follow_the_webhooks_read_before_the_write(fresh_db: str, settings: Settings) -> None:
    """A batch decides before its write whether deliveries come with it (and so whether it needs a
    transaction); `finish_notices` then uses that same reading, not a fresher one."""
    from dancu.notifications import repository as notices_repo
    from dancu.notifications.service import Movement, active_webhooks, finish_notices, prepare_notices

    db = Database(fresh_db)
    try:
        place = await place_in(db, settings)
        async with db.unit_of_work() as s:
            admin = await actor_of(s, await make_account(s, Role.ADMIN, "VN"))
            before = await active_webhooks(s)
            await create_webhook(s, admin, WebhookCreate(url="https://dest.example/h", unit_code=place.destination),
                                 allow_loopback_http=True)
        async with db.unit_of_work() as s:
            assert await active_webhooks(s) and not before
            person = await make_person(s)
            notices = await prepare_notices(s, [Movement(source="passage", person_id=person.id,
                                                         origin_unit_code=HANOI_COMMUNE,
                                                         destination_unit_code=place.destination,
                                                         travel_date=utcnow().date())])
            ids = await notices_repo.insert_notices(s, notices.rows)
            await finish_notices(s, notices, ids, None, before)
            assert await s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    finally:
        await db.dispose()
