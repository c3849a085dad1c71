"""Webhooks: registration rules, the outbox rows written with each notice, signed delivery with retries."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Role
from dancu.audit.models import AuditEvent
from dancu.core.db import utcnow
from dancu.core.errors import ValidationFailed
from dancu.notifications.models import Webhook, WebhookDelivery
from dancu.notifications.schemas import WebhookCreate
from dancu.notifications.service import Movement, notify_movements
from dancu.notifications.webhooks import (
    create_webhook,
    deactivate_webhook,
    sign,
    validate_url,
    verify_signature,
)
from dancu.notifications.worker import BACKOFF_SECONDS, MAX_ATTEMPTS, deliver_due, delivery_worker
from tests.factories import (
    HANOI,
    HANOI_COMMUNE,
    HANOI_COMMUNE_2,
    actor_of,
    hcmc_commune,
    login,
    make_account,
    make_person,
)
from tests.notifications.conftest import eventually, move
from tests.notifications.receiver import Receiver
from tests.support import TestDatabase, statements_sent


async def _official(session: AsyncSession, unit: str = HANOI) -> Actor:
    return await actor_of(session, await make_account(session, Role.OFFICIAL, unit))


async def _hook(session: AsyncSession, actor: Actor, url: str, unit: str | None = None) -> tuple[int, str]:
    data = WebhookCreate(url=url, unit_code=unit)
    created = await create_webhook(session, actor, data, allow_loopback_http=True)
    return created.id, created.secret


async def _deliveries(session: AsyncSession) -> list[WebhookDelivery]:
    rows = (await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))).all()
    for d in rows:
        await session.refresh(d)
    return list(rows)


async def test_registration_validates_the_url_the_unit_and_shows_the_secret_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    csrf = await login(client, official.username)
    h = {"X-CSRF-Token": csrf}
    bad_urls = ("http://example.org/h", "ftp://example.org/x", "https://user:pw@example.org/x", "example.org")
    for bad in bad_urls:
        r = await client.post("/api/v1/webhooks", json={"url": bad}, headers=h)
        assert r.status_code == 422 and r.json()["field"] == "url", bad
    elsewhere = {"url": "https://hcmc.example/x", "unit_code": await hcmc_commune(session)}
    outside = await client.post("/api/v1/webhooks", json=elsewhere, headers=h)
    assert outside.status_code == 403 and outside.json()["field"] == "unit_code"
    created = await client.post("/api/v1/webhooks", json={"url": "https://ubnd.example/hook",
                                                          "unit_code": HANOI_COMMUNE}, headers=h)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["unit_code"] == HANOI_COMMUNE
    listed = (await client.get("/api/v1/webhooks")).json()
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    gone = await client.delete(f"/api/v1/webhooks/{body['id']}", headers=h)
    assert gone.status_code == 200 and gone.json()["active"] is False
    query = select(AuditEvent.action).where(AuditEvent.subject_type == "webhook")
    actions = (await session.scalars(query)).all()
    assert sorted(actions) == ["webhook:create", "webhook:deactivate"]
    with pytest.raises(ValidationFailed):
        validate_url("http://127.0.0.1:9/x", allow_loopback_http=False)  # production: https only
    assert validate_url("http://localhost:9/x", allow_loopback_http=True) == "http://localhost:9/x"


async def test_webhook_pages_create_show_secret_and_deactivate(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    csrf = await login(client, official.username)
    r = await client.post("/notices/webhooks", data={"csrf_token": csrf, "url": "https://ubnd.example/h",
                                                     "unit_code": HANOI})
    assert r.status_code == 200 and 'id="new-secret"' in r.text and "whsec_" in r.text
    hook = await session.scalar(select(Webhook).where(Webhook.url == "https://ubnd.example/h"))
    assert hook is not None and hook.secret in r.text
    page = await client.get("/notices/webhooks")
    assert "ubnd.example/h" in page.text and hook.secret not in page.text
    off = await client.post(f"/notices/webhooks/{hook.id}/deactivate", data={"csrf_token": csrf})
    assert off.status_code == 303
    await session.refresh(hook)
    assert hook.active is False
    bad = await client.post("/notices/webhooks", data={"csrf_token": csrf, "url": "http://x.example/"})
    assert bad.status_code == 422 and "flash error" in bad.text


async def test_each_notice_enqueues_one_delivery_per_webhook_of_its_subtree(session: AsyncSession) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    admin = await actor_of(session, await make_account(session, Role.ADMIN, "VN"))
    province, _ = await _hook(session, admin, "https://hanoi.example/h", HANOI)
    commune_hcmc, _ = await _hook(session, admin, "https://hcmc.example/h", hcmc)
    await _hook(session, admin, "https://other-commune.example/h", HANOI_COMMUNE_2)
    stopped, _ = await _hook(session, admin, "https://stopped.example/h", HANOI_COMMUNE)
    await deactivate_webhook(session, admin, stopped)
    departure, arrival = await move(session, person.id, hcmc, HANOI_COMMUNE)
    assert {(d.webhook_id, d.notice_id, d.status, d.attempts) for d in await _deliveries(session)} == {
        (commune_hcmc, departure.id, "pending", 0), (province, arrival.id, "pending", 0)}


async def test_without_webhooks_a_notice_costs_only_its_insert(
    database: TestDatabase, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    await move(session, person.id, hcmc, HANOI_COMMUNE)  # warms the per-process caches
    async with statements_sent(database, session) as statements:
        await move(session, person.id, hcmc, HANOI_COMMUNE)
        batch = await notify_movements(session, [
            Movement("passage", person.id, hcmc, HANOI_COMMUNE, date(2021, 8, 12)) for _ in range(3)])
    assert statements and all(s.startswith("insert into notices") for s in statements)
    if database.engine.dialect.name == "postgresql":
        assert len(statements) == 2  # one multi-row INSERT … RETURNING per call (SQLite: one per row)
    assert [n.kind for n in batch] == ["departure", "arrival"] * 3 and all(n.id for n in batch)


async def test_delivery_is_signed_and_carries_the_notice(
    database: TestDatabase, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session, full_name="Trưng Trắc", sex="F")
    async with Receiver(200) as receiver, httpx.AsyncClient() as http:
        _, secret = await _hook(session, await _official(session, HANOI_COMMUNE), receiver.url)
        _, arrival = await move(session, person.id, hcmc, HANOI_COMMUNE)
        assert await deliver_due(database, client=http) == 1
        assert await deliver_due(database, client=http) == 0
    [(headers, body)] = receiver.requests
    assert headers["x-dancu-signature"].startswith("sha256=")
    signature, stamp = headers["x-dancu-signature"], headers["x-dancu-timestamp"]
    assert verify_signature(secret, signature, stamp, body)
    assert not verify_signature(secret, signature, stamp, body + b" ")  # a changed body
    assert not verify_signature("whsec_other", signature, stamp, body)  # another secret
    old = int(stamp) - 3600
    assert not verify_signature(secret, sign(secret, old, body), str(old), body)  # replayed an hour later
    sent = json.loads(body)
    assert sent["event"] == "notice.arrival" and sent["notice"]["id"] == arrival.id
    assert sent["person"] == {"national_id": person.national_id, "full_name": "Trưng Trắc"}
    assert sent["notice"]["origin"]["code"] == hcmc and sent["notice"]["travel_date"] == "2021-08-12"
    [d] = await _deliveries(session)
    assert (d.status, d.attempts, d.last_error) == ("delivered", 1, None) and d.delivered_at is not None
    assert headers["x-dancu-delivery"] == str(d.id)


async def test_a_failing_receiver_is_retried_with_backoff_then_delivered(
    database: TestDatabase, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    async with Receiver(503, 200) as receiver, httpx.AsyncClient() as http:
        _, secret = await _hook(session, await _official(session, HANOI_COMMUNE), receiver.url)
        await move(session, person.id, hcmc, HANOI_COMMUNE)
        t0 = utcnow()
        assert await deliver_due(database, now=t0, client=http) == 1
        [d] = await _deliveries(session)
        assert (d.status, d.attempts, d.last_error) == ("pending", 1, "HTTP 503")
        wait = (d.next_attempt_at - t0).total_seconds()
        assert BACKOFF_SECONDS[0] * 0.8 <= wait <= BACKOFF_SECONDS[0] * 1.2
        assert await deliver_due(database, now=t0 + timedelta(seconds=20), client=http) == 0  # not yet due
        assert await deliver_due(database, now=d.next_attempt_at, client=http) == 1
    [d] = await _deliveries(session)
    assert (d.status, d.attempts, d.last_error) == ("delivered", 2, None)
    assert len(receiver.requests) == 2
    assert all(verify_signature(secret, h["x-dancu-signature"], h["x-dancu-timestamp"], b)
               for h, b in receiver.requests)


async def test_refused_connections_back_off_until_the_delivery_fails(
    database: TestDatabase, session: AsyncSession
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    await _hook(session, await _official(session, HANOI_COMMUNE), dead)
    await move(session, person.id, hcmc, HANOI_COMMUNE)
    now = utcnow()
    waits = []
    async with httpx.AsyncClient() as http:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert await deliver_due(database, now=now, client=http) == 1
            [d] = await _deliveries(session)
            assert d.attempts == attempt and d.last_error and "Connect" in d.last_error
            if attempt < MAX_ATTEMPTS:
                assert d.status == "pending" and d.next_attempt_at > now
                waits.append((d.next_attempt_at - now).total_seconds())
                now = d.next_attempt_at
        assert d.status == "failed"
        assert await deliver_due(database, now=now + timedelta(days=1), client=http) == 0
    assert all(b * 0.8 <= w <= b * 1.2 for w, b in zip(waits, BACKOFF_SECONDS, strict=True))


async def test_deliveries_of_a_deactivated_webhook_are_given_up(
    database: TestDatabase, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    official = await _official(session, HANOI_COMMUNE)
    async with Receiver(200) as receiver, httpx.AsyncClient() as http:
        hook_id, _ = await _hook(session, official, receiver.url)
        await move(session, person.id, hcmc, HANOI_COMMUNE)
        await deactivate_webhook(session, official, hook_id)
        assert await deliver_due(database, client=http) == 1
    [d] = await _deliveries(session)
    assert (d.status, d.last_error) == ("failed", "webhook deactivated") and receiver.requests == []


async def test_the_background_worker_delivers_and_stops(
    database: TestDatabase, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    async with Receiver(200) as receiver:
        await _hook(session, await _official(session, HANOI_COMMUNE), receiver.url)
        await move(session, person.id, hcmc, HANOI_COMMUNE)
        # As in the app's lifespan; leaving the block lets the current pass record its outcome, then stops.
        async with asyncio.timeout(10), delivery_worker(database, interval=0.02):
            await eventually(lambda: receiver.requests)
    assert [d.status for d in await _deliveries(session)] == ["delivered"]
