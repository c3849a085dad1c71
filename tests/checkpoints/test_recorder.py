"""Group commit: concurrent requests share transactions on PostgreSQL; a bad item fails alone."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.checkpoints.models import Passage
from dancu.checkpoints.passages import prepare
from dancu.checkpoints.recorder import get_recorder
from dancu.checkpoints.schemas import PassageIn
from dancu.core.db import utcnow
from dancu.notifications.models import Notice, WebhookDelivery
from dancu.notifications.schemas import WebhookCreate
from dancu.notifications.webhooks import create_webhook
from tests.checkpoints.conftest import Scene, actor_of, make_declaration, passage, post_passage
from tests.factories import make_account, make_person


async def test_concurrent_scans_are_recorded_once_each(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    people = [await make_person(session, full_name=f"Hành Khách {i}") for i in range(24)]
    codes = [
        (await make_declaration(session, p, scene.keyring, destination=scene.destination)).pass_code for p in people
    ]
    bodies = [passage(c) for c in codes]
    # Warm the token and assignment caches first: the test database is one connection, which concurrent
    # sessions cannot share (the server has a pool); after this only the recorder touches the database.
    assert (
        await client.post(f"/api/v1/checkpoints/{scene.checkpoint.id}/scan", json={"code": "x"}, headers=scene.headers)
    ).status_code == 200
    responses = await asyncio.gather(*(post_passage(client, scene, b) for b in bodies))
    assert [r.status_code for r in responses] == [201] * 24
    assert len({r.json()["passage"]["id"] for r in responses}) == 24
    assert await session.scalar(select(func.count()).select_from(Passage)) == 24
    recorder = get_recorder(app)
    assert recorder.items == 24
    if recorder.group_commit:  # PostgreSQL: the requests that queued during a commit share the next one
        assert recorder.batches < 24
    else:
        assert recorder.batches == 24
    # Retries of all of them at once: nothing new.
    again = await asyncio.gather(*(post_passage(client, scene, b) for b in bodies))
    assert {r.status_code for r in again} == {200}
    assert await session.scalar(select(func.count()).select_from(Passage)) == 24


async def test_a_failing_item_does_not_fail_the_others(app: FastAPI, session: AsyncSession, scene: Scene) -> None:
    actor = await actor_of(session, scene.officer)
    now = utcnow()
    good = prepare(
        PassageIn.model_validate(passage(scene.code)),
        checkpoint_id=scene.checkpoint.id,
        actor=actor,
        keyring=scene.keyring,
        now=now,
    )
    # A direction the database refuses (a check constraint) fails when written; the API's model checks it earlier.
    refused = PassageIn.model_validate(passage("x", decision="refuse", reason="other"))
    bad = dataclasses.replace(good, item=PassageIn.model_construct(**{**refused.__dict__, "direction": "up"}))
    outcomes = await get_recorder(app).submit([bad, good])
    assert [o.status for o in outcomes] == ["error", "created"]
    assert outcomes[0].detail == "not_recorded"
    assert await session.scalar(select(func.count()).select_from(Passage)) == 1


async def test_a_recorded_passage_enqueues_its_webhook_deliveries(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    """The outbox rows a webhook receives are written in the batch's transaction, on either write path (on
    PostgreSQL, the group-commit writer's own connection)."""
    admin = await actor_of(session, await make_account(session, Role.ADMIN, "VN"))
    hook = await create_webhook(session, admin, WebhookCreate(url="https://dest.example/h",
                                                              unit_code=scene.destination), allow_loopback_http=True)
    r = await post_passage(client, scene, passage(scene.code))
    assert r.status_code == 201, r.text
    passage_id = r.json()["passage"]["id"]
    notices = {n.kind: n.id for n in await session.scalars(select(Notice).where(Notice.passage_id == passage_id))}
    assert set(notices) == {"arrival", "departure"}
    deliveries = (await session.scalars(select(WebhookDelivery))).all()
    assert [(d.webhook_id, d.notice_id, d.status, d.attempts) for d in deliveries] == [
        (hook.id, notices["arrival"], "pending", 0)]  # the destination's commune only
