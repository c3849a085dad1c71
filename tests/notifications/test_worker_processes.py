"""Delivery against a committed database: two workers never send a delivery twice; the CLI runs one pass."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dancu.accounts.permissions import Role
from dancu.config import get_settings
from dancu.core.db import Database
from dancu.notifications.cli import notifications_app
from dancu.notifications.models import WebhookDelivery
from dancu.notifications.schemas import WebhookCreate
from dancu.notifications.webhooks import create_webhook
from dancu.notifications.worker import deliver_due
from tests.factories import HANOI_COMMUNE, actor_of, hcmc_commune, make_account, make_person
from tests.notifications.conftest import move
from tests.notifications.receiver import Receiver


async def _seed(url: str, hook_url: str, movements: int) -> None:
    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            actor = await actor_of(s, await make_account(s, Role.OFFICIAL, HANOI_COMMUNE))
            await create_webhook(s, actor, WebhookCreate(url=hook_url), allow_loopback_http=True)
            person = await make_person(s)
            origin = await hcmc_commune(s)
            for _ in range(movements):
                await move(s, person.id, origin, HANOI_COMMUNE)
    finally:
        await db.dispose()


async def _statuses(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            return list((await s.scalars(select(WebhookDelivery.status))).all())
    finally:
        await db.dispose()


async def test_two_concurrent_workers_send_each_delivery_once(fresh_db: str) -> None:
    async with Receiver(200) as receiver:
        await _seed(fresh_db, receiver.url, 12)
        first, second = Database(fresh_db), Database(fresh_db)
        try:
            async with httpx.AsyncClient() as http:
                taken = await asyncio.gather(deliver_due(first, client=http, limit=12),
                                             deliver_due(second, client=http, limit=12))
        finally:
            await first.dispose()
            await second.dispose()
    assert sum(taken) == 12
    ids = [h["x-dancu-delivery"] for h, _ in receiver.requests]
    assert len(ids) == len(set(ids)) == 12
    assert await _statuses(fresh_db) == ["delivered"] * 12


@pytest.fixture
def plain_receiver() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_cli_deliver_runs_one_pass(fresh_db: str, plain_receiver: tuple[str, list[bytes]],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url, received = plain_receiver
    asyncio.run(_seed(fresh_db, url, 1))
    monkeypatch.setenv("DANCU_DATABASE_URL", fresh_db)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(notifications_app, ["deliver"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "1 deliveries processed" in result.output and len(received) == 1
    assert asyncio.run(_statuses(fresh_db)) == ["delivered"]
