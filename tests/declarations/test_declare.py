"""Submitting declarations through the service: the register check, the trip rules, the pass, notices, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.audit.models import AuditEvent
from dancu.core.errors import Conflict, DomainError, Forbidden, ValidationFailed
from dancu.credentials.keys import Keyring
from dancu.credentials.scan import scan
from dancu.declarations import service
from dancu.declarations.models import Declaration
from dancu.declarations.service import LOCAL_TZ
from dancu.notifications.models import Notice
from tests.declarations.helpers import actor, days, paper, trip_in
from tests.factories import HANOI, HANOI_COMMUNE, HANOI_COMMUNE_2, hcmc_commune, make_person


async def test_citizen_declares_and_gets_a_signed_72_hour_pass(session: AsyncSession, keyring: Keyring) -> None:
    person = await make_person(session, full_name="Nguyễn Thị Minh Khai", sex="F", dob=date(1991, 2, 3))
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    hcm = await hcmc_commune(session)
    decl = await service.create_declaration(
        session, citizen, trip_in(person, destination_unit_code=hcm, transport="plane", vehicle_plate="30A-12345",
                                  transport_detail="VN 213"), keyring=keyring)
    assert decl.source == "online" and decl.declared_by_id == citizen.account_id and decl.entered_by_id is None
    assert decl.vehicle_plate is None  # a plate cannot belong to a flight
    assert decl.expires_at - decl.issued_at == timedelta(hours=72)
    assert len(decl.pass_id) == 16 and decl.pass_code.startswith("VNT1:")
    result = scan(decl.pass_code, keyring=keyring)
    assert result.ok, result.detail
    payload = result.payload
    assert payload["holder_name"] == "NGUYEN T. M. KHAI" and payload["id_last4"] == person.national_id[-4:]
    assert payload["declaration_id"] == str(decl.id) and payload["pass_id"] == decl.pass_id
    assert (payload["origin"], payload["destination"], payload["birth_year"]) == (HANOI_COMMUNE, hcm, 1991)
    notices = (await session.scalars(select(Notice).where(Notice.declaration_id == decl.id))).all()
    assert sorted((n.kind, n.unit_code) for n in notices) == [("arrival", hcm), ("departure", HANOI_COMMUNE)]
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "declaration:create",
                                                          AuditEvent.subject_id == str(decl.id)))
    assert event is not None and event.person_id == person.id and event.actor_id == citizen.account_id


async def test_pass_status_derives_expired_and_revoked(session: AsyncSession, keyring: Keyring) -> None:
    person = await make_person(session, full_name="Phạm Văn Đức")
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    decl = await service.create_declaration(session, citizen, trip_in(person), keyring=keyring)
    status = await service.pass_status(session, decl.pass_id)
    assert status is not None and status.status == "valid" and status.declaration_id == decl.id
    assert (status.full_name, status.dob, status.id_last4) == (person.full_name, person.dob, person.national_id[-4:])
    assert status.vehicle_plate == "29B1-23456" and status.travel_date == decl.travel_date
    expired = await service.pass_status(session, decl.pass_id, now=decl.expires_at)
    assert expired is not None and expired.status == "expired"
    assert await service.pass_status(session, "no-such-pass") is None
    await service.revoke_declaration(session, citizen, decl.id, None)
    batch = await service.pass_statuses(session, [decl.pass_id, "unknown"])
    assert list(batch) == [decl.pass_id] and batch[decl.pass_id].status == "revoked"
    assert batch[decl.pass_id].revoked_at is not None


async def test_paper_form_is_checked_against_the_register(session: AsyncSession, keyring: Keyring) -> None:
    person = await make_person(session, full_name="Đỗ Thị Hương", sex="F", dob=date(1975, 12, 1))
    officer = await actor(session, Role.CHECKPOINT_OFFICER, HANOI)
    cases = [
        (paper(person, national_id="001175999999"), "national_id", "No person with this ID"),
        (paper(person, dob="1975-12-02"), "dob", "date of birth does not match"),
        (paper(person, full_name="Đỗ Thị Hoa"), "full_name", "name does not match"),
        (paper(person, full_name=None), "full_name", "full name"),
    ]
    for data, field, fragment in cases:
        with pytest.raises(ValidationFailed) as err:
            await service.create_paper_declaration(session, officer, trip_in(**data), keyring=keyring)
        assert err.value.field == field and fragment in err.value.message, err.value.message
    # Case and diacritics do not matter; the officer is recorded as the one who entered it.
    decl = await service.create_paper_declaration(
        session, officer, trip_in(**paper(person, full_name="do thi HUONG")), keyring=keyring)
    assert decl.source == "paper" and decl.entered_by_id == officer.account_id and decl.declared_by_id is None
    with pytest.raises(Conflict) as dup:  # the same trip again: print the existing pass instead
        await service.create_paper_declaration(session, officer, trip_in(**paper(person)), keyring=keyring)
    assert dup.value.details == {"declaration_id": decl.id}


async def test_citizen_cannot_declare_for_the_paper_route(session: AsyncSession, keyring: Keyring) -> None:
    person = await make_person(session)
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    with pytest.raises(Forbidden):
        await service.create_paper_declaration(session, citizen, trip_in(**paper(person)), keyring=keyring)


@pytest.mark.parametrize(("overrides", "field", "fragment"), [
    ({"destination_unit_code": HANOI_COMMUNE}, "destination_unit_code", "must differ"),
    ({"travel_date": days(-1)}, "travel_date", "in the past"),
    ({"travel_date": days(31)}, "travel_date", "at most 30 days"),
    ({"travel_date": days(2), "return_date": days(1)}, "return_date", "before the travel date"),
    ({"origin_unit_code": HANOI}, "origin_unit_code", "not a commune"),
    ({"destination_unit_code": "99999"}, "destination_unit_code", "Unknown unit"),
    ({"vehicle_plate": "ABC-123"}, "vehicle_plate", "not a Vietnamese plate"),
    ({"transport": "train", "transport_detail": None}, "transport_detail", "train or seat"),
    ({"attested": False}, "attested", "attestation"),
    ({"origin_address": "  "}, "origin_address", "house number"),
    ({"purpose": "ok\u202etxt"}, "purpose", "control characters"),
    ({"phone": "12345"}, "phone", "not a Vietnamese phone"),
    ({"national_id": "12345"}, "national_id", "12 digits"),
])
async def test_trip_rules(session: AsyncSession, keyring: Keyring, overrides: dict[str, object], field: str,
                          fragment: str) -> None:
    person = await make_person(session)
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    with pytest.raises(ValidationFailed) as err:
        await service.create_declaration(session, citizen, trip_in(person, **overrides), keyring=keyring)
    assert err.value.field == field and fragment in err.value.message, (err.value.field, err.value.message)
    assert await session.scalar(select(func.count()).select_from(Declaration)
                                .where(Declaration.person_id == person.id)) == 0


async def test_every_problem_is_reported_at_once(session: AsyncSession, keyring: Keyring) -> None:
    person = await make_person(session)
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    bad = trip_in(person, destination_unit_code=HANOI_COMMUNE, travel_date=days(-3), attested=False)
    with pytest.raises(ValidationFailed) as err:
        await service.create_declaration(session, citizen, bad, keyring=keyring)
    assert [d["field"] for d in err.value.details] == ["destination_unit_code", "travel_date", "attested"]


async def test_today_is_the_local_date(session: AsyncSession, keyring: Keyring) -> None:
    """At 23:30 UTC it is already the next day in Vietnam: that day is 'today', the UTC date is the past."""
    person = await make_person(session)
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    # The next 23:30 UTC: the test's signing key was made just now, and an issue time before it is refused.
    now = datetime.now(UTC).replace(hour=23, minute=30, second=0, microsecond=0)
    if now <= datetime.now(UTC):
        now += timedelta(days=1)
    local = now.astimezone(LOCAL_TZ).date()
    assert local == now.date() + timedelta(days=1)
    decl = await service.create_declaration(session, citizen, trip_in(person, travel_date=local.isoformat()),
                                            keyring=keyring, now=now)
    assert decl.travel_date == local
    with pytest.raises(ValidationFailed) as err:
        await service.create_declaration(
            session, citizen, trip_in(person, travel_date=now.date().isoformat()), keyring=keyring, now=now)
    assert err.value.field == "travel_date"


async def test_household_members_only(session: AsyncSession, keyring: Keyring) -> None:
    parent = await make_person(session, household_id="HK-T-1", full_name="Lê Văn Cha")
    child = await make_person(session, household_id="HK-T-1", full_name="Lê Thị Con", sex="F",
                              dob=date(2015, 1, 9))
    neighbour = await make_person(session, household_id="HK-T-2", full_name="Hoàng Văn Hàng Xóm")
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, parent)
    decl = await service.create_declaration(session, citizen, trip_in(child), keyring=keyring)
    assert decl.person_id == child.id and decl.declared_by_id == citizen.account_id
    with pytest.raises(Forbidden):
        await service.create_declaration(session, citizen, trip_in(neighbour), keyring=keyring)
    with pytest.raises(Forbidden):  # not in the register at all: refused the same way (no ID probing)
        await service.create_declaration(session, citizen, trip_in(national_id="001190999999"), keyring=keyring)
    with pytest.raises(ValidationFailed) as err:  # a name that is given must match
        await service.create_declaration(session, citizen, trip_in(child, dob="2015-01-10"), keyring=keyring)
    assert err.value.field == "dob"


async def test_staff_cannot_declare_online(session: AsyncSession, keyring: Keyring) -> None:
    official = await actor(session, Role.OFFICIAL, HANOI)
    with pytest.raises(DomainError) as err:
        await service.create_declaration(session, official, trip_in(), keyring=keyring)
    assert err.value.status_code == 403


async def test_declare_once_prefills_from_register_and_last_trip(session: AsyncSession, keyring: Keyring) -> None:
    parent = await make_person(session, household_id="HK-P-1", current_address="7 Lý Thái Tổ", phone="0912345678")
    child = await make_person(session, household_id="HK-P-1", full_name="Nguyễn Bé", dob=date(2018, 3, 3),
                              unit=HANOI_COMMUNE_2, current_address="9 Đội Cấn")
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, parent)
    first = await service.new_form(session, citizen)
    assert first.chosen.person_id == parent.id and {m.person_id for m in first.members} == {parent.id, child.id}
    assert first.form["origin_unit_code"] == HANOI_COMMUNE and first.form["origin_address"] == "7 Lý Thái Tổ"
    assert first.form["phone"] == "0912345678" and "destination_unit_code" not in first.form
    hcm = await hcmc_commune(session)
    await service.create_declaration(session, citizen, trip_in(
        parent, destination_unit_code=hcm, destination_address="1 Nguyễn Huệ", transport="private_car",
        vehicle_plate="30A-999.99", purpose="Công tác"), keyring=keyring)
    again = await service.new_form(session, citizen)
    assert (again.form["destination_unit_code"], again.form["transport"]) == (hcm, "private_car")
    assert again.form["vehicle_plate"] == "30A-99999" and again.form["purpose"] == "Công tác"
    assert "Hồ Chí Minh" in again.labels[hcm]
    # For the child: their own residence as origin, the family's last trip for the rest.
    for_child = await service.new_form(session, citizen, child.id)
    assert for_child.chosen.person_id == child.id and for_child.form["origin_unit_code"] == HANOI_COMMUNE_2
    assert for_child.form["destination_unit_code"] == hcm
