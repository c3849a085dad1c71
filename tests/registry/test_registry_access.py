"""Register search, audited reads with a purpose, and jurisdiction scoping through the API and pages."""

from __future__ import annotations

from datetime import date

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.audit.models import AuditEvent
from tests.factories import HANOI, HANOI_COMMUNE, hcmc_commune, login, make_account, make_person


async def _bearer(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    await login(client, username)
    page = await client.get("/staff")
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    r = await client.post("/api/v1/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_search_by_name_is_diacritic_and_case_insensitive(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await make_person(session, full_name="Nguyễn Thị Hồng Nhung", sex="F", dob=date(1985, 3, 2))
    await make_person(session, full_name="Trần Văn Bình", dob=date(1985, 7, 1))
    official = await make_account(session, Role.OFFICIAL, HANOI)
    auth = await _bearer(client, official.username)
    r = await client.get("/api/v1/persons", params={"q": "NGUYEN thi hong", "year": 1985}, headers=auth)
    assert r.status_code == 200, r.text
    names = [p["full_name"] for p in r.json()["items"]]
    assert names == ["Nguyễn Thị Hồng Nhung"]
    r = await client.get("/api/v1/persons", params={"q": "nguyen"}, headers=auth)
    assert r.status_code == 422 and r.json()["field"] == "year"


async def test_read_requires_purpose_and_is_audited(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person = await make_person(session)
    official = await make_account(session, Role.OFFICIAL, HANOI)
    auth = await _bearer(client, official.username)
    r = await client.get(f"/api/v1/persons/{person.id}", headers=auth)
    assert r.status_code == 422
    r = await client.get(f"/api/v1/persons/{person.id}", params={"purpose": "contact_tracing"}, headers=auth)
    assert r.status_code == 200 and r.json()["national_id"] == person.national_id
    event = await session.scalar(
        select(AuditEvent).where(AuditEvent.person_id == person.id, AuditEvent.action == "person:read")
    )
    assert event is not None and event.purpose == "contact_tracing" and event.actor_id == official.id


async def test_other_province_is_forbidden_and_the_attempt_audited(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    outsider = await make_person(session, unit=await hcmc_commune(session), birth_province="079")
    official = await make_account(session, Role.OFFICIAL, HANOI)
    auth = await _bearer(client, official.username)
    by_id = await client.get(f"/api/v1/persons/{outsider.id}", params={"purpose": "verification"}, headers=auth)
    by_nid = await client.get(
        f"/api/v1/persons/by-national-id/{outsider.national_id}", params={"purpose": "verification"}, headers=auth
    )
    assert by_id.status_code == 403 and by_nid.status_code == 403
    denied = (await session.scalars(select(AuditEvent).where(AuditEvent.person_id == outsider.id))).all()
    assert [e.outcome for e in denied] == ["denied", "denied"]
    search = await client.get("/api/v1/persons", params={"q": outsider.national_id}, headers=auth)
    assert search.json()["total"] == 0


async def test_checkpoint_officer_cannot_browse(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person = await make_person(session)
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI)
    auth = await _bearer(client, officer.username)
    r = await client.get(f"/api/v1/persons/{person.id}", params={"purpose": "verification"}, headers=auth)
    assert r.status_code == 403


async def test_citizen_sees_who_read_their_record(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person = await make_person(session, full_name="Lê Thị <script>alert(1)</script>", sex="F")
    citizen = await make_account(session, Role.CITIZEN, HANOI_COMMUNE, username=person.national_id, person=person)
    official = await make_account(session, Role.OFFICIAL, HANOI)
    await login(client, official.username)
    page = await client.get(f"/registry/persons/{person.id}", params={"purpose": "case_management"})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    client.cookies.clear()
    await login(client, citizen.username)
    me = await client.get("/me")
    assert me.status_code == 200
    assert me.text.count('class="read-event"') == 1
    reads = (await client.get("/api/v1/me/record/reads")).json()
    assert reads["items"][0]["actor_role"] == "official" and reads["items"][0]["purpose"] == "case_management"


async def test_bad_inputs_get_clear_errors(client: httpx.AsyncClient, session: AsyncSession) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    auth = await _bearer(client, official.username)
    for bad, fragment in [("12345", "12 digits"), ("00109012345x", "digits"), ("999090123456", "province")]:
        r = await client.get(f"/api/v1/persons/by-national-id/{bad}", params={"purpose": "verification"}, headers=auth)
        assert r.status_code == 422 and fragment in r.json()["message"], r.text
    r = await client.get("/api/v1/persons", params={"q": "'; DROP TABLE persons; --", "year": 1990}, headers=auth)
    assert r.status_code == 200 and r.json()["total"] == 0
    r = await client.get("/api/v1/persons/abc", params={"purpose": "verification"}, headers=auth)
    assert r.status_code == 422
    r = await client.get("/api/v1/persons", params={"q": "x"}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


async def test_travellers_to_the_jurisdiction_are_readable(client: httpx.AsyncClient, session: AsyncSession) -> None:
    """A resident of Hồ Chí Minh City who declared travel to Hà Nội is readable by a Hà Nội official."""
    from datetime import timedelta

    from dancu.core.db import utcnow
    from dancu.declarations.models import Declaration

    hcm = await hcmc_commune(session)
    traveller = await make_person(session, unit=hcm, birth_province="079")
    official = await make_account(session, Role.OFFICIAL, HANOI)
    auth = await _bearer(client, official.username)
    params = {"purpose": "verification"}
    assert (await client.get(f"/api/v1/persons/{traveller.id}", params=params, headers=auth)).status_code == 403
    now = utcnow()
    session.add(
        Declaration(
            person_id=traveller.id,
            origin_unit_code=hcm,
            origin_address="1 Lê Lợi",
            destination_unit_code=HANOI_COMMUNE,
            destination_address="2 Phố Huế",
            travel_date=now.date(),
            transport="plane",
            transport_detail="VN123",
            purpose="work",
            attested=True,
            pass_id="p-scope-test",
            pass_code="VNT1:x",
            issued_at=now,
            expires_at=now + timedelta(hours=72),
        )
    )
    await session.flush()
    assert (await client.get(f"/api/v1/persons/{traveller.id}", params=params, headers=auth)).status_code == 200
