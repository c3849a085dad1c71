"""Register operations for staff and citizens. Every read of a person's record by staff is audited."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Permission, Purpose
from dancu.audit import repository as audit_repo
from dancu.audit.service import record_event
from dancu.core.errors import Forbidden, NotFound, ValidationFailed
from dancu.core.pagination import Page
from dancu.core.text import fold
from dancu.registry import repository as repo
from dancu.registry.idnumber import InvalidIdNumber, decode_id
from dancu.registry.models import Person
from dancu.registry.schemas import PersonOut, PersonSearch, PersonSummary, ReadEventOut
from dancu.units import repository as units_repo
from dancu.units.id_provinces import ID_PROVINCES
from dancu.units.models import Unit


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden("Your role does not allow this.")


async def search_persons(session: AsyncSession, actor: Actor, query: PersonSearch) -> Page[PersonSummary]:
    """By ID; by name (diacritic- and case-insensitive) with a year or date of birth; by household."""
    _require(actor, Permission.REGISTRY_READ)
    national_id = None
    folded = None
    if query.q:
        if query.q.isdigit():
            try:
                national_id = decode_id(query.q, field="q").number
            except InvalidIdNumber as exc:
                raise ValidationFailed(exc.message, field="q") from None
        else:
            folded = fold(query.q)
            if len(folded) < 2:
                raise ValidationFailed("Type at least 2 letters of the name.", field="q")
            if query.year is None and query.dob is None:
                raise ValidationFailed("Give the year or the date of birth with a name.", field="year")
    elif not query.household_id:
        raise ValidationFailed("Give an ID number, a name with a year of birth, or a household ID.", field="q")
    rows, total = await repo.search(
        session,
        actor,
        folded_name=folded,
        year=query.year,
        dob=query.dob,
        national_id=national_id,
        household_id=query.household_id,
        offset=(query.page - 1) * query.size,
        limit=query.size,
    )
    await record_event(
        session,
        actor,
        "registry:search",
        details={"by": "id" if national_id else "name" if folded else "household", "results": total},
    )
    return Page(items=[PersonSummary.model_validate(p) for p in rows], total=total, page=query.page, size=query.size)


async def _to_out(session: AsyncSession, person: Person) -> PersonOut:
    units = await units_repo.get_many(session, {person.current_unit_code, person.permanent_unit_code})
    out = PersonOut.model_validate(person, from_attributes=True)
    out.current_unit_name = _unit_label(units, person.current_unit_code)
    out.permanent_unit_name = _unit_label(units, person.permanent_unit_code)
    out.birth_province_name = ID_PROVINCES.get(person.birth_province, ("",))[0] or None
    return out


def _unit_label(units: Mapping[str, Unit], code: str) -> str | None:
    unit = units.get(code)
    return unit.name if unit else None


async def _open_record(
    session: AsyncSession, actor: Actor, found: tuple[Person | None, bool], purpose: Purpose, missing: str
) -> PersonOut:
    """Audit the read (or the refused attempt) of a person found with its scope flag, and return it."""
    person, in_scope = found
    if person is None:
        raise NotFound(missing)
    if not in_scope:
        await record_event(session, actor, "person:read", person_id=person.id, purpose=str(purpose), outcome="denied")
        raise Forbidden("This person is outside your jurisdiction.")
    await record_event(session, actor, "person:read", person_id=person.id, purpose=str(purpose))
    return await _to_out(session, person)


async def read_person(session: AsyncSession, actor: Actor, person_id: int, purpose: Purpose) -> PersonOut:
    """Open a person's record with a purpose. Out-of-scope attempts are audited as denied and refused."""
    _require(actor, Permission.REGISTRY_READ)
    found = await repo.get_with_scope(session, actor, person_id)
    return await _open_record(session, actor, found, purpose, "No person with this identifier.")


async def read_person_by_national_id(
    session: AsyncSession, actor: Actor, national_id: str, purpose: Purpose
) -> PersonOut:
    """Same as read_person, by 12-digit ID number, in one scoped query."""
    _require(actor, Permission.REGISTRY_READ)
    try:
        number = decode_id(national_id, field="national_id").number
    except InvalidIdNumber as exc:
        raise ValidationFailed(exc.message, field="national_id") from None
    found = await repo.get_with_scope(session, actor, national_id=number)
    return await _open_record(session, actor, found, purpose, "No person with this ID number in the register.")


async def household(session: AsyncSession, actor: Actor, household_id: str, purpose: Purpose) -> list[PersonSummary]:
    """Household members the actor may read; each member's record read is audited."""
    _require(actor, Permission.REGISTRY_READ)
    members = await repo.household_members(session, actor, household_id)
    if not members:
        raise NotFound("No household with this ID in your jurisdiction.")
    for m in members:
        await record_event(
            session,
            actor,
            "household:read",
            person_id=m.id,
            purpose=str(purpose),
            subject_type="household",
            subject_id=household_id,
        )
    return [PersonSummary.model_validate(m) for m in members]


async def my_record(session: AsyncSession, actor: Actor) -> PersonOut:
    """A citizen's own record (no staff read, so no audit entry)."""
    if actor.person_id is None:
        raise NotFound("This account is not linked to a register record.")
    person, in_scope = await repo.get_with_scope(session, actor, actor.person_id)
    if person is None or not in_scope:
        raise NotFound("This account is not linked to a register record.")
    return await _to_out(session, person)


async def my_household(session: AsyncSession, actor: Actor) -> list[PersonSummary]:
    if actor.person_id is None:
        return []
    person, _ = await repo.get_with_scope(session, actor, actor.person_id)
    if person is None or not person.household_id:
        return [PersonSummary.model_validate(person)] if person else []
    members = await repo.household_members(session, actor, person.household_id)
    return [PersonSummary.model_validate(m) for m in members]


async def who_read_my_record(session: AsyncSession, actor: Actor, page: int = 1, size: int = 20) -> Page[ReadEventOut]:
    """Who (role and unit) read the citizen's record and why, from the audit log."""
    if actor.person_id is None:
        raise NotFound("This account is not linked to a register record.")
    rows, total = await audit_repo.for_person(
        session, actor.person_id, staff_only=True, offset=(page - 1) * size, limit=size
    )
    units = await units_repo.get_many(session, {r.actor_unit for r in rows if r.actor_unit})
    items = [
        ReadEventOut(
            at=r.at,
            action=r.action,
            actor_role=r.actor_role,
            actor_unit=r.actor_unit,
            actor_unit_name=_unit_label(units, r.actor_unit or ""),
            purpose=r.purpose,
            outcome=r.outcome,
        )
        for r in rows
    ]
    return Page(items=items, total=total, page=page, size=size)
