"""Who may read, list and revoke declarations; every staff read is audited."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Purpose, Role
from dancu.audit.models import AuditEvent
from dancu.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dancu.credentials.keys import Keyring
from dancu.declarations import service
from dancu.declarations.schemas import DeclarationQuery
from tests.declarations.helpers import actor, days, paper, trip_in
from tests.factories import HANOI, HANOI_COMMUNE, HANOI_COMMUNE_2, HCMC, hcmc_commune, make_person


async def _events(session: AsyncSession, action: str) -> list[AuditEvent]:
    return list((await session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                       .order_by(AuditEvent.id))).all())


async def test_official_reads_with_a_purpose_within_jurisdiction(session: AsyncSession, keyring: Keyring) -> None:
    person = await make_person(session)
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    decl = await service.create_declaration(session, citizen, trip_in(person), keyring=keyring)
    mine = await service.read_declaration(session, citizen, decl.id)
    assert mine.pass_code == decl.pass_code
    assert await _events(session, "declaration:read") == []  # a citizen reading their own pass is no staff read
    hanoi = await actor(session, Role.OFFICIAL, HANOI)
    with pytest.raises(ValidationFailed) as err:
        await service.read_declaration(session, hanoi, decl.id)
    assert err.value.field == "purpose"
    read = await service.read_declaration(session, hanoi, decl.id, Purpose.CONTACT_TRACING)
    assert read.pass_code is None and read.purpose == decl.purpose  # officials never get the bearer code
    [event] = await _events(session, "declaration:read")
    assert event.purpose == "contact_tracing" and event.person_id == person.id and event.outcome == "ok"
    hcm = await actor(session, Role.OFFICIAL, HCMC)
    with pytest.raises(Forbidden):
        await service.read_declaration(session, hcm, decl.id, Purpose.VERIFICATION)
    assert [e.outcome for e in await _events(session, "declaration:read")] == ["ok", "denied"]
    stranger = await actor(session, Role.CITIZEN, HANOI_COMMUNE, await make_person(session))
    with pytest.raises(NotFound):
        await service.read_declaration(session, stranger, decl.id)
    officer = await actor(session, Role.CHECKPOINT_OFFICER, HANOI)
    with pytest.raises(NotFound):
        await service.read_declaration(session, officer, decl.id)


async def test_revoking(session: AsyncSession, keyring: Keyring) -> None:
    person = await make_person(session)
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    first = await service.create_declaration(session, citizen, trip_in(person), keyring=keyring)
    second = await service.create_declaration(session, citizen, trip_in(person, travel_date=days(1)),
                                              keyring=keyring)
    out = await service.revoke_declaration(session, citizen, first.id, None)
    assert out.status == "revoked" and first.revoked_by_id == citizen.account_id
    with pytest.raises(Conflict):
        await service.revoke_declaration(session, citizen, first.id, "again")
    official = await actor(session, Role.OFFICIAL, HANOI)
    with pytest.raises(ValidationFailed) as err:
        await service.revoke_declaration(session, official, second.id, None)
    assert err.value.field == "reason"
    hcm = await actor(session, Role.OFFICIAL, HCMC)
    with pytest.raises(Forbidden):
        await service.revoke_declaration(session, hcm, second.id, "not mine")
    officer = await actor(session, Role.CHECKPOINT_OFFICER, HANOI)
    with pytest.raises(NotFound):
        await service.revoke_declaration(session, officer, second.id, "no")
    done = await service.revoke_declaration(session, official, second.id, "Khai báo sai")
    assert done.status == "revoked" and done.revoke_reason == "Khai báo sai"
    events = await _events(session, "declaration:revoke")
    assert [(e.actor_id, e.details["by"] if e.details else None) for e in events if e.outcome == "ok"] == [
        (citizen.account_id, "owner"), (official.account_id, "official")]
    status = await service.pass_status(session, second.pass_id)
    assert status is not None and status.status == "revoked"


async def test_officials_list_their_jurisdiction(session: AsyncSession, keyring: Keyring) -> None:
    hcm_commune = await hcmc_commune(session)
    local = await make_person(session, full_name="Vũ Văn Một")
    far = await make_person(session, full_name="Vũ Văn Hai", unit=hcm_commune, birth_province="079")
    officer = await actor(session, Role.CHECKPOINT_OFFICER, HANOI)
    inside = await service.create_paper_declaration(session, officer, trip_in(**paper(local)), keyring=keyring)
    arriving = await service.create_paper_declaration(session, officer, trip_in(**paper(
        far, origin_unit_code=hcm_commune, destination_unit_code=HANOI_COMMUNE_2, travel_date=days(3),
        transport="coach", transport_detail="Ghế 12")), keyring=keyring)
    elsewhere = await service.create_paper_declaration(session, officer, trip_in(**paper(
        far, origin_unit_code=hcm_commune, destination_unit_code=await _other_hcm(session, hcm_commune),
        travel_date=days(2))), keyring=keyring)
    await service.revoke_declaration(session, await actor(session, Role.OFFICIAL, HANOI), inside.id, "sai")
    hanoi = await actor(session, Role.OFFICIAL, HANOI)
    everything = await service.list_declarations(session, hanoi, DeclarationQuery())
    ids = [d.id for d in everything.items]
    assert elsewhere.id not in ids and set(ids) >= {inside.id, arriving.id}
    assert ids.index(arriving.id) < ids.index(inside.id)  # newest first
    valid = await service.list_declarations(session, hanoi, DeclarationQuery(status="valid"))
    assert [d.id for d in valid.items if d.id in (inside.id, arriving.id)] == [arriving.id]
    by_origin = await service.list_declarations(session, hanoi, DeclarationQuery(origin=HCMC))
    assert [d.id for d in by_origin.items] == [arriving.id]
    dated = await service.list_declarations(session, hanoi, DeclarationQuery(date_from=days(3), date_to=days(3)))
    assert [d.id for d in dated.items] == [arriving.id]
    paged = await service.list_declarations(session, hanoi, DeclarationQuery(size=1, page=2))
    assert paged.total == everything.total and len(paged.items) == 1 and paged.items[0].id == ids[1]
    with pytest.raises(ValidationFailed):
        await service.list_declarations(session, hanoi, DeclarationQuery(date_from=days(3), date_to=days(1)))
    assert len(await _events(session, "declarations:list")) == 5
    with pytest.raises(Forbidden):
        await service.list_declarations(session, officer, DeclarationQuery())


async def _other_hcm(session: AsyncSession, not_this: str) -> str:
    from dancu.units.models import Unit

    code = await session.scalar(select(Unit.code).where(Unit.parent_code == HCMC, Unit.code != not_this).limit(1))
    assert code
    return str(code)


async def test_history_is_newest_first_and_includes_household(session: AsyncSession, keyring: Keyring) -> None:
    parent = await make_person(session, household_id="HK-H-1")
    child = await make_person(session, household_id="HK-H-1", full_name="Nguyễn Văn Bé", dob=date(2016, 4, 4))
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, parent)
    ids = [(await service.create_declaration(session, citizen, trip_in(p, travel_date=days(i)), keyring=keyring)).id
           for i, p in enumerate([parent, child, parent])]
    page1 = await service.my_declarations(session, citizen, 1, 2)
    page2 = await service.my_declarations(session, citizen, 2, 2)
    assert page1.total == 3 and [d.id for d in page1.items + page2.items] == ids[::-1]
    other = await actor(session, Role.CITIZEN, HANOI_COMMUNE, await make_person(session))
    assert (await service.my_declarations(session, other)).total == 0
    # The child's pass is readable and revocable by the parent who declared it.
    child_pass = await service.read_declaration(session, citizen, ids[1])
    assert child_pass.full_name == child.full_name and child_pass.pass_code


async def test_printing_is_for_the_traveller_and_the_entering_officer(session: AsyncSession,
                                                                     keyring: Keyring) -> None:
    person = await make_person(session)
    officer = await actor(session, Role.CHECKPOINT_OFFICER, HANOI)
    other_officer = await actor(session, Role.CHECKPOINT_OFFICER, HANOI)
    decl = await service.create_paper_declaration(session, officer, trip_in(**paper(person)), keyring=keyring)
    assert [p.id for p in await service.passes_to_print(session, officer, [decl.id])] == [decl.id]
    assert await service.passes_to_print(session, other_officer, [decl.id]) == []
    [event] = await _events(session, "declarations:print")
    assert event.actor_id == officer.account_id and event.details == {"ids": [decl.id]}
