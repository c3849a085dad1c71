"""Notices for both communes, jurisdiction scoping, filters, pages, marking handled and its audit."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.audit.models import AuditEvent
from dancu.checkpoints.models import Checkpoint
from dancu.notifications import service
from dancu.notifications.models import Notice
from dancu.notifications.schemas import NoticeQuery
from tests.factories import (
    HANOI,
    HANOI_COMMUNE,
    HANOI_COMMUNE_2,
    HCMC,
    actor_of,
    hcmc_commune,
    login,
    make_account,
    make_person,
)
from tests.notifications.conftest import move


async def test_a_movement_notifies_the_commune_of_origin_and_of_destination(session: AsyncSession) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    notices = await move(session, person.id, hcmc, HANOI_COMMUNE)
    query = select(Notice).where(Notice.person_id == person.id).order_by(Notice.id)
    stored = (await session.scalars(query)).all()
    assert [(n.kind, n.unit_code) for n in stored] == [("departure", hcmc), ("arrival", HANOI_COMMUNE)]
    assert {n.id for n in notices} == {n.id for n in stored}
    assert all(n.origin_province == HCMC and n.destination_unit_code == HANOI_COMMUNE for n in stored)


async def test_each_official_sees_only_their_jurisdiction(session: AsyncSession) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    to_hanoi = await move(session, person.id, hcmc, HANOI_COMMUNE)  # departure in HCMC, arrival in 00004
    to_hcmc = await move(session, person.id, HANOI_COMMUNE_2, hcmc)  # departure in 00008, arrival in HCMC

    async def seen(unit: str, role: Role = Role.OFFICIAL) -> set[int]:
        actor = await actor_of(session, await make_account(session, role, unit))
        page = await service.list_notices(session, actor, NoticeQuery(size=200))
        return {n.id for n in page.items}

    assert await seen(HANOI) == {to_hanoi[1].id, to_hcmc[0].id}
    assert await seen(HCMC) == {to_hanoi[0].id, to_hcmc[1].id}
    assert await seen(HANOI_COMMUNE) == {to_hanoi[1].id}
    assert await seen("VN", Role.ADMIN) == {n.id for n in to_hanoi + to_hcmc}


async def test_api_filters_pages_newest_first_and_refuses_other_roles(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session, full_name="Võ Thị Sáu", sex="F")
    checkpoint = Checkpoint(name="Chốt Pháp Vân", unit_code=HANOI, kind="city_gateway")
    session.add(checkpoint)
    await session.flush()
    a = await move(session, person.id, hcmc, HANOI_COMMUNE, travel_date=date(2021, 8, 10), source="passage",
                   checkpoint_id=checkpoint.id)
    b = await move(session, person.id, HANOI_COMMUNE_2, HANOI_COMMUNE, travel_date=date(2021, 8, 12))
    c = await move(session, person.id, HANOI_COMMUNE, hcmc, travel_date=date(2021, 8, 14))
    official = await make_account(session, Role.OFFICIAL, HANOI)
    await login(client, official.username)

    async def ids(**params: str | int) -> list[int]:
        r = await client.get("/api/v1/notices", params={"size": 50, **params})
        assert r.status_code == 200, r.text
        return [n["id"] for n in r.json()["items"]]

    everything = [c[0].id, b[1].id, b[0].id, a[1].id]  # newest first; HCMC's notices are not ours
    assert await ids() == everything
    assert await ids(kind="arrival") == [b[1].id, a[1].id]
    assert await ids(date_from="2021-08-11", date_to="2021-08-13") == [b[1].id, b[0].id]
    assert await ids(checkpoint_id=checkpoint.id) == [a[1].id]
    assert await ids(origin_province=HCMC) == [a[1].id]
    assert await ids(handled="false") == everything and await ids(handled="true") == []
    first = (await client.get("/api/v1/notices", params={"size": 3})).json()
    second = (await client.get("/api/v1/notices", params={"size": 3, "page": 2})).json()
    assert first["total"] == 4 and [n["id"] for n in first["items"] + second["items"]] == everything
    row = next(n for n in first["items"] if n["id"] == b[1].id)
    assert row["person_name"] == "Võ Thị Sáu" and row["national_id"] == person.national_id
    assert row["origin_name"] and row["destination_name"] and row["travel_date"] == "2021-08-12"
    assert next(n for n in second["items"])["checkpoint_name"] == "Chốt Pháp Vân"
    bad = await client.get("/api/v1/notices", params={"date_from": "2021-08-14", "date_to": "2021-08-01"})
    assert bad.status_code == 422

    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI)
    client.cookies.clear()
    await login(client, officer.username)
    assert (await client.get("/api/v1/notices")).status_code == 403


async def test_mark_handled_is_scoped_idempotent_and_audited(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    departure, arrival = await move(session, person.id, hcmc, HANOI_COMMUNE)
    official = await make_account(session, Role.OFFICIAL, HANOI_COMMUNE)
    csrf = await login(client, official.username)
    h = {"X-CSRF-Token": csrf}
    body = {"ids": [arrival.id, departure.id, 987654321]}
    first = await client.post("/api/v1/notices/handled", json=body, headers=h)
    assert first.status_code == 200, first.text
    assert first.json() == {"updated": [arrival.id], "already_handled": [],
                            "not_found": sorted([departure.id, 987654321])}
    again = await client.post("/api/v1/notices/handled", json={"ids": [arrival.id]}, headers=h)
    assert again.json() == {"updated": [], "already_handled": [arrival.id], "not_found": []}
    stored = {n.id: n for n in (await session.scalars(
        select(Notice).where(Notice.id.in_([arrival.id, departure.id])).execution_options(populate_existing=True)
    )).all()}
    assert stored[arrival.id].handled_by_id == official.id and stored[arrival.id].handled_at is not None
    assert stored[departure.id].handled_at is None  # HCMC's notice: outside this commune
    events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "notices:handle")
                                    .order_by(AuditEvent.id))).all()
    assert [e.details["updated"] for e in events if e.details] == [[arrival.id], []]
    assert all(e.actor_id == official.id for e in events)
    r = await client.get("/api/v1/notices", params={"handled": "true"})
    assert [n["id"] for n in r.json()["items"]] == [arrival.id]
    assert (await client.post("/api/v1/notices/handled", json={"ids": []}, headers=h)).status_code == 422


async def test_inbox_page_lists_rows_and_audits_one_event_per_view(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    people = [await make_person(session, full_name=f"Người Số {i}") for i in range(3)]
    for p in people:
        await move(session, p.id, hcmc, HANOI_COMMUNE)
    official = await make_account(session, Role.OFFICIAL, HANOI_COMMUNE)
    await login(client, official.username)
    before = len((await session.scalars(select(AuditEvent.id))).all())
    page = await client.get("/notices", params={"kind": "arrival"})
    assert page.status_code == 200
    html = page.text
    assert 'id="inbox"' in html and html.count('class="notice-row') == 3 and 'data-kind="arrival"' in html
    assert all(p.full_name in html for p in people) and "/static/app/inbox.js" in html
    events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id).offset(before))).all()
    assert [(e.action, e.person_id) for e in events] == [("notices:list", None)]
    assert events[0].details == {"filters": {"kind": "arrival"}, "page": 1, "results": 3, "shown": 3}
    bad = await client.get("/notices", params={"date_from": "not-a-date"})
    assert bad.status_code == 200 and "flash error" in bad.text


async def test_page_marks_one_row_with_htmx_and_many_with_the_bulk_form(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    hcmc = await hcmc_commune(session)
    person = await make_person(session)
    arrivals = [(await move(session, person.id, hcmc, HANOI_COMMUNE))[1] for _ in range(3)]
    official = await make_account(session, Role.OFFICIAL, HANOI_COMMUNE)
    csrf = await login(client, official.username)
    one = await client.post("/notices/handled", data={"csrf_token": csrf, "ids": str(arrivals[0].id)},
                            headers={"HX-Request": "true"})
    assert one.status_code == 200
    assert f'id="notice-{arrivals[0].id}"' in one.text and "Mark handled" not in one.text
    bulk = await client.post("/notices/handled", data={"csrf_token": csrf, "next": "/notices?kind=arrival",
                                                       "ids": [str(a.id) for a in arrivals]})
    assert bulk.status_code == 303 and bulk.headers["location"] == "/notices?kind=arrival&handled_count=2"
    stored = (await session.scalars(select(Notice).where(Notice.id.in_([a.id for a in arrivals]))
                                    .execution_options(populate_existing=True))).all()
    assert len(stored) == 3 and all(n.handled_at is not None for n in stored)
    none = await client.post("/notices/handled", data={"csrf_token": csrf})
    assert none.status_code == 422


async def test_checkpoint_picker_options(client: httpx.AsyncClient, session: AsyncSession) -> None:
    session.add_all([Checkpoint(name="Chốt Pháp Vân", unit_code=HANOI, kind="city_gateway"),
                     Checkpoint(name="Chốt Bắc Thăng Long", unit_code=HANOI, kind="city_gateway")])
    await session.flush()
    official = await make_account(session, Role.OFFICIAL, HANOI)
    await login(client, official.username)
    r = await client.get("/notices/checkpoints", params={"checkpoint_id": "pháp"})
    assert r.status_code == 200 and "Chốt Pháp Vân" in r.text and "Thăng Long" not in r.text
