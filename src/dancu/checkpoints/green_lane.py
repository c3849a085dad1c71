"""The green lane: freight vehicles registered by transport officials, and signed passes for a driver's trip.

A pass binds a vehicle, a driver from the register and a route, and requires a negative test taken at most
72 hours ago. It is valid until the test is 72 hours old or 72 hours after issue, whichever is first;
checkpoints wave a valid pass through ("green lane — do not stop").
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Permission
from dancu.audit.service import record_event
from dancu.checkpoints import green_lane_repository as repo
from dancu.checkpoints import repository as checkpoint_repo
from dancu.checkpoints.models import GreenLanePass, Vehicle
from dancu.checkpoints.schemas import GreenLaneIssue, GreenLanePassOut, VehicleCreate, VehicleOut
from dancu.core.db import utcnow
from dancu.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dancu.core.pagination import Page
from dancu.core.plates import normalize_plate
from dancu.credentials.keys import Keyring
from dancu.credentials.travel_pass import GreenLaneClaims, issue_green_lane_pass, mask_name
from dancu.registry.models import Person
from dancu.units.models import Unit

TEST_VALID = timedelta(hours=72)
PASS_HOURS = 72
FUTURE_SKEW = timedelta(minutes=5)


def _require(actor: Actor) -> None:
    if not actor.can(Permission.VEHICLES_MANAGE):
        raise Forbidden("Your role does not allow managing green-lane vehicles.")


def _inside(actor: Actor, unit: Unit) -> bool:
    return unit.path.startswith(actor.unit_path)


def pass_out(p: GreenLanePass, vehicle: Vehicle, driver: Person) -> GreenLanePassOut:
    return GreenLanePassOut(
        id=p.id,
        pass_id=p.pass_id,
        vehicle_id=vehicle.id,
        vehicle_plate=vehicle.plate,
        driver_name=mask_name(driver.full_name),
        driver_id_last4=driver.national_id[-4:],
        origin_unit_code=p.origin_unit_code,
        destination_unit_code=p.destination_unit_code,
        test_kind=p.test_kind,
        test_taken_at=p.test_taken_at,
        issued_at=p.issued_at,
        expires_at=p.expires_at,
        revoked_at=p.revoked_at,
        code=p.pass_code,
    )


async def register_vehicle(session: AsyncSession, actor: Actor, data: VehicleCreate) -> VehicleOut:
    _require(actor)
    plate = normalize_plate(data.plate, field="plate")
    unit = await checkpoint_repo.unit(session, data.unit_code)
    if unit is None:
        raise ValidationFailed("Unknown unit code {code}.", field="unit_code", params={"code": data.unit_code[:10]})
    if not _inside(actor, unit):
        raise Forbidden("This unit is outside your jurisdiction.", field="unit_code")
    if await repo.vehicle_by_plate(session, plate) is not None:
        raise Conflict("The vehicle {plate} is already registered.", field="plate", params={"plate": plate})
    vehicle = Vehicle(
        plate=plate,
        vehicle_type=data.vehicle_type,
        owner_company=data.owner_company,
        unit_code=unit.code,
        registered_by_id=actor.account_id,
        active=True,
        created_at=utcnow(),
    )
    await repo.add(session, vehicle)
    await record_event(
        session,
        actor,
        "vehicle:register",
        subject_type="vehicle",
        subject_id=vehicle.id,
        details={"plate": plate},
    )
    return VehicleOut.model_validate(vehicle)


async def managed_vehicle(session: AsyncSession, actor: Actor, vehicle_id: int) -> Vehicle:
    _require(actor)
    found = await repo.vehicle(session, vehicle_id)
    if found is None:
        raise NotFound("No such vehicle.")
    if not _inside(actor, found[1]):
        raise Forbidden("This vehicle is outside your jurisdiction.")
    return found[0]


async def set_vehicle_active(session: AsyncSession, actor: Actor, vehicle_id: int, active: bool) -> VehicleOut:
    vehicle = await managed_vehicle(session, actor, vehicle_id)
    vehicle.active = active
    await session.flush()
    await record_event(
        session,
        actor,
        "vehicle:activate" if active else "vehicle:deactivate",
        subject_type="vehicle",
        subject_id=vehicle.id,
    )
    return VehicleOut.model_validate(vehicle)


async def list_vehicles(
    session: AsyncSession, actor: Actor, *, q: str | None = None, page: int = 1, size: int = 20
) -> Page[VehicleOut]:
    _require(actor)
    q = (q or "").strip()[:40] or None
    rows, total = await repo.search_vehicles(session, actor.unit_path, q=q, offset=(page - 1) * size, limit=size)
    return Page(items=[VehicleOut.model_validate(v) for v in rows], total=total, page=page, size=size)


async def vehicle_detail(
    session: AsyncSession, actor: Actor, vehicle_id: int
) -> tuple[VehicleOut, list[GreenLanePassOut]]:
    vehicle = await managed_vehicle(session, actor, vehicle_id)
    passes = [pass_out(p, vehicle, driver) for p, driver in await repo.passes_of(session, vehicle.id)]
    return VehicleOut.model_validate(vehicle), passes


def validity(test_taken_at: datetime, now: datetime) -> int:
    """Whole hours a pass may be valid: until the test is 72 h old, at most 72 h (else ValidationFailed)."""
    if test_taken_at > now + FUTURE_SKEW:
        raise ValidationFailed("The test time is in the future.", field="test_taken_at")
    if now - test_taken_at > TEST_VALID:
        raise ValidationFailed("The test is older than 72 hours.", field="test_taken_at")
    hours = int(min(test_taken_at + TEST_VALID - now, timedelta(hours=PASS_HOURS)).total_seconds() // 3600)
    if hours < 1:
        raise ValidationFailed("The test expires within the hour: take a new test.", field="test_taken_at")
    return hours


async def issue_pass(
    session: AsyncSession,
    actor: Actor,
    vehicle_id: int,
    data: GreenLaneIssue,
    *,
    keyring: Keyring,
    now: datetime | None = None,
) -> GreenLanePassOut:
    """Sign a green-lane pass for this vehicle, a driver from the register and a route."""
    vehicle = await managed_vehicle(session, actor, vehicle_id)
    if not vehicle.active:
        raise ValidationFailed("The vehicle is deactivated.", field="vehicle")
    now = (now or utcnow()).replace(microsecond=0)
    hours = validity(data.test_taken_at, now)
    driver = await repo.driver_by_national_id(session, data.driver_national_id)
    if driver is None or driver.status != "alive":
        raise ValidationFailed("No living person with this ID number in the register.", field="driver_national_id")
    if data.origin_unit_code == data.destination_unit_code:
        raise ValidationFailed("The origin and the destination must differ.", field="destination_unit_code")
    for field in ("origin_unit_code", "destination_unit_code"):
        code = getattr(data, field)
        if await checkpoint_repo.unit(session, code) is None:
            raise ValidationFailed("Unknown unit code {code}.", field=field, params={"code": code[:10]})
    pass_id = "GL" + secrets.token_hex(8).upper()
    claims = GreenLaneClaims(
        pass_id=pass_id,
        vehicle_plate=vehicle.plate,
        driver_name=mask_name(driver.full_name),
        driver_id_last4=driver.national_id[-4:],
        origin=data.origin_unit_code,
        destination=data.destination_unit_code,
    )
    code = issue_green_lane_pass(claims, keyring=keyring, now=now, hours=hours)
    green = GreenLanePass(
        vehicle_id=vehicle.id,
        driver_person_id=driver.id,
        origin_unit_code=data.origin_unit_code,
        destination_unit_code=data.destination_unit_code,
        test_kind=data.test_kind,
        test_taken_at=data.test_taken_at,
        pass_id=pass_id,
        pass_code=code,
        issued_by_id=actor.account_id,
        issued_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    await repo.add(session, green)
    await record_event(
        session,
        actor,
        "green_lane:issue",
        person_id=driver.id,
        subject_type="green_lane_pass",
        subject_id=green.id,
        details={"vehicle_id": vehicle.id, "hours": hours},
    )
    return pass_out(green, vehicle, driver)


async def managed_pass(session: AsyncSession, actor: Actor, pass_row_id: int) -> tuple[GreenLanePass, Vehicle, Person]:
    _require(actor)
    found = await repo.green_pass(session, pass_row_id)
    if found is None:
        raise NotFound("No such green-lane pass.")
    green, vehicle, unit, driver = found
    if not _inside(actor, unit):
        raise Forbidden("This pass is outside your jurisdiction.")
    return green, vehicle, driver


async def get_pass(session: AsyncSession, actor: Actor, pass_row_id: int) -> GreenLanePassOut:
    return pass_out(*await managed_pass(session, actor, pass_row_id))


async def revoke_pass(session: AsyncSession, actor: Actor, pass_row_id: int) -> GreenLanePassOut:
    green, vehicle, driver = await managed_pass(session, actor, pass_row_id)
    if green.revoked_at is None:
        green.revoked_at = utcnow()
        await session.flush()
        await record_event(
            session,
            actor,
            "green_lane:revoke",
            person_id=driver.id,
            subject_type="green_lane_pass",
            subject_id=green.id,
        )
    return pass_out(green, vehicle, driver)
