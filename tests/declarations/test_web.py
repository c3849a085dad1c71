"""The declarations API and pages over HTTP: same rules, JSON errors, escaped HTML, the pass page, PDF."""

from __future__ import annotations

import re
from datetime import date

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.declarations.models import Declaration
from dancu.registry.models import Person
from tests.declarations.helpers import csrf_of, days, paper, trip
from tests.factories import HANOI, HANOI_COMMUNE, HANOI_COMMUNE_2, hcmc_commune, login, make_account, make_person


async def _citizen(client: httpx.AsyncClient, session: AsyncSession, **kw: object
                   ) -> tuple[Person, dict[str, str]]:
    person = await make_person(session, **kw)
    await make_account(session, Role.CITIZEN, HANOI_COMMUNE, username=person.national_id, person=person)
    csrf = await login(client, person.national_id)
    return person, {"X-CSRF-Token": csrf}


async def test_api_declare_read_list_revoke(client: httpx.AsyncClient, session: AsyncSession) -> None:
    _person, headers = await _citizen(client, session, household_id="HK-W-1")
    child = await make_person(session, household_id="HK-W-1", full_name="Trần Bé Na", dob=date(2017, 6, 1))
    r = await client.post("/api/v1/declarations", json=trip(child), headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["pass_code"].startswith("VNT1:") and body["status"] == "valid" and body["full_name"] == "Trần Bé Na"
    assert body["id_last4"] == child.national_id[-4:] and "national_id" not in body
    assert body["origin_name"].startswith("Phường Ba Đình")
    listed = (await client.get("/api/v1/declarations")).json()
    assert [d["id"] for d in listed["items"]] == [body["id"]]
    got = await client.get(f"/api/v1/declarations/{body['id']}")
    assert got.status_code == 200 and got.json()["pass_id"] == body["pass_id"]
    revoked = await client.post(f"/api/v1/declarations/{body['id']}/revoke", json={}, headers=headers)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    again = await client.post(f"/api/v1/declarations/{body['id']}/revoke", json={}, headers=headers)
    assert again.status_code == 409


async def test_api_bad_input_gets_json_errors(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person, headers = await _citizen(client, session)
    outsider = await make_person(session, household_id="HK-OTHER")
    cases = [
        (trip(outsider), 403, "national_id"),
        (trip(national_id="001190999999"), 403, "national_id"),
        (trip(person, dob="1990-05-18"), 422, "dob"),
        (trip(person, destination_unit_code=HANOI_COMMUNE), 422, "destination_unit_code"),
        (trip(person, travel_date=days(-1)), 422, "travel_date"),
        (trip(person, travel_date=days(45)), 422, "travel_date"),
        (trip(person, vehicle_plate="XYZ"), 422, "vehicle_plate"),
        (trip(person, attested=False), 422, "attested"),
        (trip(person, transport="rocket"), 422, "transport"),
        (trip(person, travel_date="not-a-date"), 422, "travel_date"),
    ]
    for payload, status, field in cases:
        r = await client.post("/api/v1/declarations", json=payload, headers=headers)
        assert r.status_code == status and r.json()["field"] == field, (payload, r.text)
        assert r.json()["message"]
    assert await session.scalar(select(Declaration.id).where(Declaration.person_id == person.id)) is None
    assert (await client.get("/api/v1/declarations/999999")).status_code == 404


async def test_api_paper_entry_by_officer(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person = await make_person(session, full_name="Bùi Thị Lan", sex="F", dob=date(1950, 8, 8))
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI)
    headers = {"X-CSRF-Token": await login(client, officer.username)}
    r = await client.post("/api/v1/declarations/paper", json=paper(person, dob="1950-08-09"), headers=headers)
    assert r.status_code == 422 and r.json()["field"] == "dob"
    r = await client.post("/api/v1/declarations/paper", json=paper(person), headers=headers)
    assert r.status_code == 201 and r.json()["source"] == "paper", r.text
    r = await client.post("/api/v1/declarations", json=trip(person), headers=headers)
    assert r.status_code == 403  # officers do not declare online
    mine = (await client.get("/api/v1/declarations")).json()
    assert mine["total"] == 1


async def test_pages_declare_and_show_the_pass_escaped(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person, _ = await _citizen(client, session, current_address="3 <b>Hàng</b> Bông")
    page = await client.get("/declarations/new")
    assert page.status_code == 200
    assert f'value="{HANOI_COMMUNE}"' in page.text and "3 &lt;b&gt;Hàng&lt;/b&gt; Bông" in page.text
    form = {k: v for k, v in trip(person, purpose="<script>alert(1)</script>").items()
            if k not in ("symptoms", "exposures", "attested")}
    form.update(csrf_token=csrf_of(page.text), attested="on", symptoms="cough")
    missing = await client.post("/declarations/new", data={**form, "attested": ""})
    assert missing.status_code == 422 and 'id="attested-error"' in missing.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in missing.text and "<script>alert(1)" not in missing.text
    done = await client.post("/declarations/new", data=form)
    assert done.status_code == 303, done.text
    pass_page = await client.get(done.headers["location"])
    assert pass_page.status_code == 200
    assert "<script>alert(1)</script>" not in pass_page.text and "&lt;script&gt;alert(1)" in pass_page.text
    code = re.search(r'id="pass-qr"[^>]*data-code="([^"]+)"', pass_page.text)
    decl = await session.scalar(select(Declaration).where(Declaration.person_id == person.id))
    assert code is not None and decl is not None and code.group(1) == decl.pass_code
    assert decl.symptoms == ["cough"]
    card = pass_page.text.split('class="pass-card"')[1].split("Declaration details")[0]
    assert f"•••• •••• {person.national_id[-4:]}" in card and person.national_id not in card
    history = await client.get("/declarations")
    assert history.text.count('class="declaration-row"') == 1
    printed = await client.get(f"/declarations/{decl.id}/print")
    assert printed.status_code == 200 and decl.pass_code in printed.text
    pdf = await client.get(f"/declarations/{decl.id}/pass.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == (
        "application/pdf")
    csrf = csrf_of(pass_page.text)
    r = await client.post(f"/declarations/{decl.id}/revoke", data={"csrf_token": csrf, "reason": ""})
    assert r.status_code == 303
    revoked = await client.get(f"/declarations/{decl.id}")
    assert 'data-status="revoked"' in revoked.text and 'id="pass-qr"' not in revoked.text


async def test_official_pages_ask_for_a_purpose(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person = await make_person(session)
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI)
    await login(client, officer.username)
    page = await client.get("/declarations/paper")
    hcm = await hcmc_commune(session)
    form = {k: v for k, v in paper(person, destination_unit_code=hcm, transport="plane",
                                   transport_detail="VJ 123").items() if k not in ("symptoms", "exposures")}
    form.update(csrf_token=csrf_of(page.text), attested="on")
    r = await client.post("/declarations/paper", data=form)
    assert r.status_code == 303, r.text
    dup = await client.post("/declarations/paper", data=form)
    assert dup.status_code == 409 and "/print" in dup.text
    decl_id = int(r.headers["location"].rsplit("/", 1)[1])
    client.cookies.clear()
    official = await make_account(session, Role.OFFICIAL, HANOI)
    await login(client, official.username)
    ask = await client.get(f"/declarations/{decl_id}")
    assert 'name="purpose"' in ask.text
    opened = await client.get(f"/declarations/{decl_id}", params={"purpose": "verification"})
    assert opened.status_code == 200 and 'id="pass-qr"' not in opened.text and "VJ 123" in opened.text
    listing = await client.get("/declarations/list", params={"destination": "79", "status": "valid"})
    assert listing.status_code == 200 and listing.text.count('class="declaration-row"') == 1
    bad = await client.get("/declarations/list", params={"date_from": "nope"})
    assert bad.status_code == 200 and 'role="alert"' in bad.text
    assert (await client.get("/declarations/new")).status_code == 403
    assert (await client.get("/declarations")).headers.get("location") == "/declarations/list"


async def test_unknown_household_member_and_other_pages(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person, _headers = await _citizen(client, session)
    page = await client.get("/declarations/new", params={"person": 999999})
    assert page.status_code == 200 and person.national_id in page.text  # falls back to self
    assert (await client.get("/declarations/paper")).status_code == 403
    assert (await client.get("/declarations/list")).status_code == 403
    unit = await client.get("/units/options", params={"q": "ngoc ha"}, headers={"X-Unit-Level": "commune"})
    assert HANOI_COMMUNE_2 in unit.text


async def test_without_a_signing_key_nothing_is_stored(client: httpx.AsyncClient, session: AsyncSession,
                                                      settings: object) -> None:
    import shutil

    from dancu.config import Settings
    from dancu.credentials.keys import clear_keyring_cache

    assert isinstance(settings, Settings)
    person, headers = await _citizen(client, session)
    shutil.rmtree(settings.keys_dir)
    clear_keyring_cache()
    r = await client.post("/api/v1/declarations", json=trip(person), headers=headers)
    assert r.status_code == 503 and r.json()["error"] == "signing_unavailable"
    page = await client.get("/declarations/new")
    form = {k: v for k, v in trip(person).items() if k not in ("symptoms", "exposures", "attested")}
    r = await client.post("/declarations/new", data={**form, "attested": "on", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 503 and 'role="alert"' in r.text
    assert await session.scalar(select(Declaration.id).where(Declaration.person_id == person.id)) is None
