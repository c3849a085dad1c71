"""Officials manage checkpoints and assign officers inside their own jurisdiction (API and pages)."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.audit.models import AuditEvent
from dancu.checkpoints.models import Checkpoint, CheckpointAssignment
from tests.checkpoints.conftest import bearer, make_account, make_checkpoint
from tests.factories import HANOI, HANOI_COMMUNE, HANOI_COMMUNE_2, hcmc_commune, login


async def test_official_creates_lists_and_edits_checkpoints(client: httpx.AsyncClient, session: AsyncSession) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    h = await bearer(session, official)
    r = await client.post(
        "/api/v1/checkpoints",
        headers=h,
        json={
            "name": "  Trạm   Pháp Vân ",
            "unit_code": HANOI_COMMUNE,
            "kind": "city_gateway",
            "lat": 20.95,
            "lon": 105.85,
        },
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == "Trạm Pháp Vân" and created["active"] is True and created["unit_name"]
    await client.post(
        "/api/v1/checkpoints",
        headers=h,
        json={"name": "Cửa ngõ Bắc Thăng Long", "unit_code": HANOI_COMMUNE_2, "kind": "city_gateway"},
    )
    page = await client.get("/api/v1/checkpoints", headers=h, params={"q": "pháp", "size": 1})
    assert page.json()["total"] == 1 and page.json()["items"][0]["id"] == created["id"]
    all_mine = await client.get("/api/v1/checkpoints", headers=h, params={"size": 1})
    assert all_mine.json()["total"] == 2 and len(all_mine.json()["items"]) == 1
    r = await client.patch(
        f"/api/v1/checkpoints/{created['id']}", headers=h, json={"active": False, "kind": "internal"}
    )
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["kind"] == "internal"
    assert (await client.get("/api/v1/checkpoints", headers=h, params={"active": "true"})).json()["total"] == 1
    actions = (await session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "checkpoint"))).all()
    assert {"checkpoint:create", "checkpoint:update"} <= set(actions)


async def test_checkpoint_input_is_validated(client: httpx.AsyncClient, session: AsyncSession) -> None:
    h = await bearer(session, await make_account(session, Role.OFFICIAL, HANOI))
    outside = await hcmc_commune(session)
    cases = [
        ({"name": "X", "unit_code": HANOI_COMMUNE, "kind": "internal"}, 422),  # name too short
        ({"name": "Trạm A", "unit_code": HANOI_COMMUNE, "kind": "airport"}, 422),  # unknown kind
        ({"name": "Trạm A", "unit_code": "99999", "kind": "internal"}, 422),  # unknown unit
        ({"name": "Trạm A", "unit_code": outside, "kind": "internal"}, 403),  # outside jurisdiction
        ({"name": "Trạm A", "unit_code": HANOI_COMMUNE, "kind": "internal", "lat": 21.0}, 422),  # lat without lon
        ({"name": "Trạm A", "unit_code": HANOI_COMMUNE, "kind": "internal", "lat": 48.8, "lon": 2.3}, 422),
    ]
    for body, status in cases:
        r = await client.post("/api/v1/checkpoints", headers=h, json=body)
        assert r.status_code == status, (body, r.text)
    assert await session.scalar(select(Checkpoint.id).limit(1)) is None


async def test_jurisdiction_and_roles(client: httpx.AsyncClient, session: AsyncSession) -> None:
    hcmc_official = await make_account(session, Role.OFFICIAL, "79")
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE)
    hanoi_cp = await make_checkpoint(session)
    h = await bearer(session, hcmc_official)
    assert (await client.get(f"/api/v1/checkpoints/{hanoi_cp.id}", headers=h)).status_code == 403
    assert (
        await client.patch(f"/api/v1/checkpoints/{hanoi_cp.id}", headers=h, json={"active": False})
    ).status_code == 403
    assert (await client.get("/api/v1/checkpoints", headers=h)).json()["total"] == 0
    assert (await client.get("/api/v1/checkpoints", headers=await bearer(session, officer))).status_code == 403
    assert (await client.get("/api/v1/checkpoints/999999", headers=h)).status_code == 404


async def test_assigning_officers(client: httpx.AsyncClient, session: AsyncSession) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE)
    other_official = await make_account(session, Role.OFFICIAL, HANOI)
    far_officer = await make_account(session, Role.CHECKPOINT_OFFICER, await hcmc_commune(session))
    cp = await make_checkpoint(session)
    h = await bearer(session, official)
    url = f"/api/v1/checkpoints/{cp.id}/officers"
    r = await client.post(url, headers=h, json={"username": officer.username.upper()})
    assert r.status_code == 201, r.text
    assert r.json()["account_id"] == officer.id
    assert (await client.post(url, headers=h, json={"username": officer.username})).status_code == 409
    wrong_role = await client.post(url, headers=h, json={"username": other_official.username})
    assert wrong_role.status_code == 422 and wrong_role.json()["field"] == "username"
    assert (await client.post(url, headers=h, json={"account_id": far_officer.id})).status_code == 403
    assert (await client.post(url, headers=h, json={"username": "nobody.here"})).status_code == 422
    listed = await client.get(url, headers=h)
    assert [o["username"] for o in listed.json()] == [officer.username]
    mine = await client.get("/api/v1/me/checkpoints", headers=await bearer(session, officer))
    assert [c["id"] for c in mine.json()] == [cp.id]
    assert (await client.delete(f"{url}/{officer.id}", headers=h)).status_code == 204
    assert (await client.delete(f"{url}/{officer.id}", headers=h)).status_code == 404
    assert await session.get(CheckpointAssignment, (cp.id, officer.id)) is None


async def test_unassigned_officer_cannot_scan_after_the_cache_is_cleared(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE)
    cp = await make_checkpoint(session, officers=(officer,))
    oh = await bearer(session, officer)
    assert (await client.post(f"/api/v1/checkpoints/{cp.id}/scan", headers=oh, json={"code": "x"})).status_code == 200
    await client.delete(f"/api/v1/checkpoints/{cp.id}/officers/{officer.id}", headers=await bearer(session, official))
    assert (await client.post(f"/api/v1/checkpoints/{cp.id}/scan", headers=oh, json={"code": "x"})).status_code == 403


async def test_pages_create_edit_and_assign(client: httpx.AsyncClient, session: AsyncSession) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE)
    csrf = await login(client, official.username)
    page = await client.get("/checkpoints/new")
    assert page.status_code == 200 and 'name="unit_code"' in page.text
    bad = await client.post(
        "/checkpoints/new", data={"csrf_token": csrf, "name": "Trạm B", "unit_code": "99999", "kind": "internal"}
    )
    assert bad.status_code == 422 and "99999" in bad.text
    r = await client.post(
        "/checkpoints/new",
        data={
            "csrf_token": csrf,
            "name": "Trạm Nam Hà Nội",
            "unit_code": HANOI_COMMUNE,
            "kind": "provincial_border",
            "lat": "20,9",
            "lon": "105.8",
        },
    )
    assert r.status_code == 303, r.text
    cp_id = int(r.headers["location"].rsplit("/", 1)[1])
    cp = await session.get(Checkpoint, cp_id)
    assert cp is not None and cp.lat == 20.9
    listing = await client.get("/checkpoints", params={"q": "nam hà"})
    assert "Trạm Nam Hà Nội" in listing.text
    options = await client.get("/checkpoints/officer-options", params={"username": officer.username[:8]})
    assert officer.username in options.text
    r = await client.post(f"/checkpoints/{cp_id}/officers", data={"csrf_token": csrf, "username": officer.username})
    assert r.status_code == 303
    detail = await client.get(f"/checkpoints/{cp_id}")
    assert officer.username in detail.text
    r = await client.post(
        f"/checkpoints/{cp_id}", data={"csrf_token": csrf, "name": "Trạm Nam", "kind": "internal", "lat": "", "lon": ""}
    )
    assert r.status_code == 303
    await session.refresh(cp)
    assert (cp.name, cp.active, cp.lat) == ("Trạm Nam", False, None)
    r = await client.post(f"/checkpoints/{cp_id}/officers/{officer.id}/remove", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert await session.get(CheckpointAssignment, (cp_id, officer.id)) is None
    no_csrf = await client.post(
        "/checkpoints/new", data={"name": "Trạm C", "unit_code": HANOI_COMMUNE, "kind": "internal"}
    )
    assert no_csrf.status_code == 403
