"""The live inbox: server-sent events of notices created after the stream connected."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.app import create_app
from dancu.audit.models import AuditEvent
from dancu.config import Settings
from dancu.core.db import Database
from dancu.notifications.pages import notice_events
from dancu.notifications.schemas import NoticeFilter, NoticeOut
from tests.factories import (
    HANOI_COMMUNE,
    PASSWORD,
    actor_of,
    form_token,
    hcmc_commune,
    login,
    make_account,
    make_person,
)
from tests.notifications.conftest import eventually, move
from tests.support import TestDatabase


def _row(n: NoticeOut) -> str:
    return f'<tr class="notice-row" data-kind="{n.kind}">\n<td>{n.person_name}</td></tr>'


async def test_the_generator_sends_notices_created_after_it_connected(
    database: TestDatabase, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session, full_name="Phan Bội Châu")
    old = await move(session, person.id, hcmc, HANOI_COMMUNE)
    actor = await actor_of(session, await make_account(session, Role.OFFICIAL, HANOI_COMMUNE))
    events = notice_events(database, actor, NoticeFilter(), old[1].id, _row, poll=0.01, heartbeat=0.05)
    try:
        first = await anext(events)
        assert "event: ready" in first and f"data: {old[1].id}" in first
        departure, arrival = await move(session, person.id, hcmc, HANOI_COMMUNE)
        chunk = await asyncio.wait_for(anext(events), 5)
        assert f"id: {arrival.id}\nevent: notice\n" in chunk
        assert 'data: <tr class="notice-row" data-kind="arrival">\ndata: <td>Phan Bội Châu</td></tr>' in chunk
        assert f"id: {departure.id}" not in chunk  # the departure went to HCMC, outside this commune
        assert await asyncio.wait_for(anext(events), 5) == ": keep-alive\n\n"  # quiet: a heartbeat
    finally:
        await events.aclose()


async def test_the_filter_applies_to_the_stream(database: TestDatabase, session: AsyncSession) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    actor = await actor_of(session, await make_account(session, Role.OFFICIAL, HANOI_COMMUNE))
    departures = notice_events(database, actor, NoticeFilter(kind="departure"), 0, _row, once=True)
    await anext(departures)
    await move(session, person.id, hcmc, HANOI_COMMUNE)
    assert [chunk async for chunk in departures] == []  # the only notice here is an arrival


async def test_stream_endpoint_once_mode_resume_and_auth(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session, full_name="Nguyễn Thị Minh Khai", sex="F")
    assert (await client.get("/notices/stream", params={"once": 1})).status_code in (303, 401)
    official = await make_account(session, Role.OFFICIAL, HANOI_COMMUNE)
    await login(client, official.username)
    _, before = await move(session, person.id, hcmc, HANOI_COMMUNE)
    _, after = await move(session, person.id, hcmc, HANOI_COMMUNE)
    r = await client.get("/notices/stream", params={"once": 1, "after": before.id})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert f"id: {after.id}\nevent: notice" in r.text and f"id: {before.id}\n" not in r.text
    assert 'class="notice-row' in r.text and 'data-kind="arrival"' in r.text and person.full_name in r.text
    resumed = await client.get("/notices/stream", params={"once": 1},
                               headers={"Last-Event-ID": str(after.id)})
    assert "event: notice" not in resumed.text and f"data: {after.id}" in resumed.text
    audited = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "notices:stream"))).all()
    assert len(audited) == 2 and all(e.actor_id == official.id for e in audited)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _seed(url: str) -> tuple[str, int, str]:
    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            person = await make_person(s, full_name="Hồ Xuân Hương", sex="F")
            official = await make_account(s, Role.OFFICIAL, HANOI_COMMUNE)
            return official.username, person.id, await hcmc_commune(s)
    finally:
        await db.dispose()


async def _arrive(url: str, person_id: int, origin: str) -> int:
    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            return (await move(s, person_id, origin, HANOI_COMMUNE))[1].id
    finally:
        await db.dispose()


async def test_a_real_server_streams_a_new_arrival_and_ends_when_the_client_leaves(
    fresh_db: str, tmp_path: Path
) -> None:
    username, person_id, hcmc = await _seed(fresh_db)
    settings = Settings(env="test", database_url=fresh_db, data_dir=tmp_path, cookie_secure=False,
                        log_json=False, log_level="WARNING")
    app = create_app(settings, routers=["dancu.health", "dancu.accounts.pages", "dancu.notifications.pages"])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        await eventually(lambda: server.started, 20)
        async with asyncio.timeout(20):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                token = await form_token(http)
                r = await http.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
                assert r.status_code == 303
                async with http.stream("GET", "/notices/stream") as stream:
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    lines = stream.aiter_lines()
                    async for line in lines:
                        if line == "event: ready":
                            break
                    arrival_id = await _arrive(fresh_db, person_id, hcmc)
                    seen: list[str] = []
                    async for line in lines:
                        seen.append(line)
                        if line.startswith("data:") and "</tr>" in line:
                            break
                    text = "\n".join(seen)
                    assert f"id: {arrival_id}" in text and 'data-kind="arrival"' in text
                    assert "Hồ Xuân Hương" in text
        # The client has gone: the streaming task must end (no poller left behind).
        await eventually(lambda: not server.server_state.tasks, 5)
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
    assert not thread.is_alive()


