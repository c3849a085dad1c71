"""Green lane: vehicles registered by transport officials, passes for a tested driver, waved through."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.checkpoints.green_lane import validity
from dancu.checkpoints.models import GreenLanePass, Passage, Vehicle
from dancu.core.db import utcnow
from dancu.core.errors import ValidationFailed
from dancu.credentials.scan import scan
from tests.checkpoints.conftest import Scene, bearer, passage, post_passage
from tests.factories import HANOI_COMMUNE, hcmc_commune, login, make_person


@pytest_asyncio.fixture
async def official(session: AsyncSession, scene: Scene) -> dict[str, str]:
    """Bearer headers of the scene's official (a transport official: VEHICLES_MANAGE)."""
    return await bearer(session, scene.official)


async def register(client: httpx.AsyncClient, headers: dict[str, str], plate: str = "51c-123.45") -> httpx.Response:
    return await client.post(
        "/api/v1/vehicles",
        headers=headers,
        json={
            "plate": plate,
            "vehicle_type": "Xe tải",
            "owner_company": "Công ty Vận tải Bắc Nam",
            "unit_code": HANOI_COMMUNE,
        },
    )


async def issue(
    client: httpx.AsyncClient, scene: Scene, headers: dict[str, str], vehicle_id: int, **kw: object
) -> httpx.Response:
    body: dict[str, object] = {
        "driver_national_id": scene.person.national_id,
        "origin_unit_code": HANOI_COMMUNE,
        "destination_unit_code": scene.destination,
        "test_kind": "pcr",
        # 9 h 59 min old: still 10 h once the request runs, with a minute to spare (validity is whole hours,
        # so a test exactly 10 h old gave 61 h whenever a second ticked over before the server's clock read).
        "test_taken_at": (utcnow() - timedelta(hours=10) + timedelta(minutes=1)).isoformat(),
    }
    body.update(kw)
    return await client.post(f"/api/v1/vehicles/{vehicle_id}/green-lane-passes", headers=headers, json=body)


async def test_vehicle_plates_are_validated_and_normalised(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene, official: dict[str, str]
) -> None:
    r = await register(client, official, "51c-123.45")
    assert r.status_code == 201, r.text
    assert r.json()["plate"] == "51C-12345"
    duplicate = await register(client, official, "51C 12345")
    assert duplicate.status_code == 409
    for bad in ("ABC-1234", "05A-12345", "51C-12", "hello"):
        r = await register(client, official, bad)
        assert r.status_code == 422, bad
        assert r.json()["error"] == "invalid_plate" and r.json()["field"] == "plate"
    assert len((await session.scalars(select(Vehicle))).all()) == 1


def test_pass_validity_hours() -> None:
    now = utcnow()
    assert validity(now - timedelta(hours=10), now) == 62
    assert validity(now - timedelta(minutes=10), now) == 71
    assert validity(now, now) == 72
    with pytest.raises(ValidationFailed, match="older than 72"):
        validity(now - timedelta(hours=73), now)
    with pytest.raises(ValidationFailed, match="future"):
        validity(now + timedelta(hours=1), now)
    with pytest.raises(ValidationFailed, match="within the hour"):
        validity(now - timedelta(hours=71, minutes=30), now)


async def test_issue_scan_and_revoke_a_green_lane_pass(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene, official: dict[str, str]
) -> None:
    vehicle = (await register(client, official)).json()
    r = await issue(client, scene, official, vehicle["id"])
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["vehicle_plate"] == "51C-12345" and issued["driver_name"] == "TRAN T. BINH"
    row = await session.get(GreenLanePass, issued["id"])
    assert row is not None
    assert row.expires_at - row.issued_at == timedelta(hours=62)  # test 10 h old: valid until it is 72 h old
    checked = scan(issued["code"], keyring=scene.keyring)
    assert checked.ok and checked.kind == "green_lane" and checked.payload["vehicle_plate"] == "51C-12345"

    at = f"/api/v1/checkpoints/{scene.checkpoint.id}/scan"
    verdict = (await client.post(at, headers=scene.headers, json={"code": issued["code"]})).json()
    assert (verdict["verdict"], verdict["reason"], verdict["green_lane"]) == ("green", "green_lane", True)
    assert verdict["message"] == "Green lane — do not stop" and verdict["vehicle_plate"] == "51C-12345"
    recorded = await post_passage(client, scene, passage(issued["code"]))
    assert recorded.status_code == 201 and recorded.json()["passage"]["green_lane"] is True
    row = await session.get(Passage, recorded.json()["passage"]["id"])
    assert row is not None and row.green_lane_pass_id == issued["id"] and row.person_id == scene.person.id

    h = official
    assert (await client.post(f"/api/v1/green-lane-passes/{issued['id']}/revoke", headers=h)).status_code == 200
    verdict = (await client.post(at, headers=scene.headers, json={"code": issued["code"]})).json()
    assert (verdict["verdict"], verdict["reason"]) == ("red", "revoked")

    second = (await issue(client, scene, official, vehicle["id"])).json()
    assert (await client.patch(f"/api/v1/vehicles/{vehicle['id']}", headers=h, json={"active": False})).json()[
        "active"
    ] is False
    verdict = (await client.post(at, headers=scene.headers, json={"code": second["code"]})).json()
    assert (verdict["verdict"], verdict["reason"]) == ("red", "vehicle_inactive")
    assert (
        await issue(client, scene, official, vehicle["id"])
    ).status_code == 422  # no new pass for an inactive vehicle


async def test_issue_checks_driver_test_and_route(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene, official: dict[str, str]
) -> None:
    vehicle = (await register(client, official)).json()
    cases = {
        "unknown driver": ({"driver_national_id": "001099999999"}, "driver_national_id"),
        "bad ID": ({"driver_national_id": "12345"}, "driver_national_id"),
        "old test": ({"test_taken_at": (utcnow() - timedelta(hours=73)).isoformat()}, "test_taken_at"),
        "future test": ({"test_taken_at": (utcnow() + timedelta(hours=2)).isoformat()}, "test_taken_at"),
        "naive time": ({"test_taken_at": "2026-01-01T08:00:00"}, "test_taken_at"),
        "same place": ({"destination_unit_code": HANOI_COMMUNE}, "destination_unit_code"),
        "unknown unit": ({"origin_unit_code": "99999"}, "origin_unit_code"),
        "bad kind": ({"test_kind": "smell"}, "test_kind"),
    }
    for name, (change, field) in cases.items():
        r = await issue(client, scene, official, vehicle["id"], **change)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["field"] == field, name
    assert (await session.scalars(select(GreenLanePass))).all() == []


async def test_green_lane_jurisdiction(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene, official: dict[str, str]
) -> None:
    r = await client.post(
        "/api/v1/vehicles",
        headers=official,
        json={
            "plate": "51C-12345",
            "vehicle_type": "Xe tải",
            "owner_company": "Công ty A",
            "unit_code": await hcmc_commune(session),
        },
    )
    assert r.status_code == 403
    r = await client.post(
        "/api/v1/vehicles",
        headers=scene.headers,
        json={"plate": "51C-12345", "vehicle_type": "Xe tải", "owner_company": "Công ty A", "unit_code": HANOI_COMMUNE},
    )
    assert r.status_code == 403  # checkpoint officers do not register vehicles


async def test_green_lane_pages_show_a_printable_qr(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    driver = await make_person(session, full_name="Lê Văn Tài")
    csrf = await login(client, scene.official.username)
    bad = await client.post(
        "/green-lane/vehicles",
        data={
            "csrf_token": csrf,
            "plate": "XYZ",
            "vehicle_type": "Xe tải",
            "owner_company": "Công ty A",
            "unit_code": HANOI_COMMUNE,
        },
    )
    assert bad.status_code == 422 and "XYZ" in bad.text
    r = await client.post(
        "/green-lane/vehicles",
        data={
            "csrf_token": csrf,
            "plate": "29H-456.78",
            "vehicle_type": "Xe tải",
            "owner_company": "Công ty A",
            "unit_code": HANOI_COMMUNE,
        },
    )
    assert r.status_code == 303
    vehicle_url = r.headers["location"]
    local = (utcnow() + timedelta(hours=7) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")  # local time, no zone
    r = await client.post(
        f"{vehicle_url}/passes",
        data={
            "csrf_token": csrf,
            "driver_national_id": driver.national_id,
            "origin_unit_code": HANOI_COMMUNE,
            "destination_unit_code": scene.destination,
            "test_kind": "rapid",
            "test_taken_at": local,
        },
    )
    assert r.status_code == 303, r.text
    page = await client.get(r.headers["location"])
    green = await session.scalar(select(GreenLanePass).where(GreenLanePass.driver_person_id == driver.id))
    assert green is not None and green.test_kind == "rapid"
    assert abs((utcnow() - green.test_taken_at) - timedelta(hours=5)) < timedelta(minutes=2)
    assert f'data-code="{green.pass_code}"' in page.text and "/static/vendor/qrcode.js" in page.text
    assert "29H-45678" in page.text and "LE V. TAI" in page.text
    listing = await client.get("/green-lane", params={"q": "29h"})
    assert "29H-45678" in listing.text
