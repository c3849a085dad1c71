"""Travel declarations: submit (online or from paper), the 72-hour pass, revoke, read, list.

A declaration is checked against the register, signed as a `VNT1:` travel pass, stored, announced to the
communes of origin and destination (`notify_movement`) and audited, all in the caller's transaction.
Reads by staff are audited with a purpose; a citizen reading their own (or household) pass is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Permission, Purpose
from dancu.audit.service import record_event
from dancu.core.db import utcnow
from dancu.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dancu.core.pagination import Page
from dancu.core.text import fold
from dancu.credentials.keys import Keyring
from dancu.declarations import repository as repo
from dancu.declarations.issuing import issue
from dancu.declarations.models import Declaration
from dancu.declarations.repository import derived_status, pass_status, pass_statuses
from dancu.declarations.schemas import (
    DeclarationIn,
    DeclarationOut,
    DeclarationQuery,
    DeclarationSummary,
    HouseholdOption,
)
from dancu.declarations.validation import Problems, check_trip, place_label, places
from dancu.declarations.writer import DeclarationWriter, TokenUse
from dancu.registry.models import Person
from dancu.units.service import Place

__all__ = [
    "as_created", "create_declaration", "create_paper_declaration", "declare", "list_declarations", "my_declarations",
    "new_form", "pass_status", "pass_statuses", "passes_to_print", "read_declaration", "revoke_declaration",
]

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOT_HOUSEHOLD = "You can declare only for yourself and the members of your household."
NO_DECLARATION = "No such declaration."
Access = Literal["owner", "entered", "official"]


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(LOCAL_TZ).date()


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden("Your role does not allow this.")


def _match_register(person: Person, data: DeclarationIn, *, required: bool) -> None:
    """Name (without diacritics and case) and date of birth against the register record."""
    if required and not data.full_name:
        raise ValidationFailed("Write the full name as on the ID card.", field="full_name")
    if required and data.dob is None:
        raise ValidationFailed("Write the date of birth.", field="dob")
    if data.full_name and fold(data.full_name) != fold(person.full_name):
        raise ValidationFailed("The name does not match the register record of this ID number.",
                               field="full_name")
    if data.dob is not None and data.dob != person.dob:
        raise ValidationFailed("The date of birth does not match the register record of this ID number.",
                               field="dob")
    if person.status != "alive":
        raise ValidationFailed("The register records this person as deceased.", field="national_id")


async def create_declaration(
    session: AsyncSession, actor: Actor, data: DeclarationIn, *, keyring: Keyring, now: datetime | None = None,
    writer: DeclarationWriter | None = None,
) -> Declaration:
    """A citizen declares for themselves or a household member; returns the declaration with its pass.
    With a `writer` (PostgreSQL) it is stored by group commit, shared with other requests."""
    declaration, _person = await _declare(session, actor, data, keyring=keyring, now=now, writer=writer)
    return declaration


async def declare(
    session: AsyncSession, actor: Actor, data: DeclarationIn, *, keyring: Keyring,
    writer: DeclarationWriter | None = None, token_use: TokenUse | None = None,
) -> DeclarationOut:
    """`create_declaration`, answered as its maker sees it (the API's reply). `token_use`: the last-use stamp
    of the caller's bearer token, written by the writer with the declaration."""
    declaration, person = await _declare(session, actor, data, keyring=keyring, now=None, writer=writer,
                                         token_use=token_use)
    return to_out(declaration, person, await places(session), utcnow(), with_code=True)


async def _declare(
    session: AsyncSession, actor: Actor, data: DeclarationIn, *, keyring: Keyring, now: datetime | None,
    writer: DeclarationWriter | None, token_use: TokenUse | None = None,
) -> tuple[Declaration, Person]:
    _require(actor, Permission.DECLARATIONS_CREATE)
    now = now or utcnow()
    problems = Problems()
    clean = check_trip(data, await places(session), local_today(now), problems)
    problems.raise_first()
    # Declaring for oneself (the usual case) needs no scope query; anyone else must be in `readable()`.
    person = await repo.person_by_national_id(session, clean.national_id)
    if person is not None and person.id != actor.person_id:
        person = await repo.readable_person_by_national_id(session, actor, clean.national_id)
    if person is None:  # unknown and out-of-household IDs are refused alike
        raise Forbidden(NOT_HOUSEHOLD, field="national_id")
    _match_register(person, data, required=False)
    declaration = await issue(session, actor, person, data, phone=clean.phone, plate=clean.vehicle_plate,
                              detail=clean.transport_detail, source="online", keyring=keyring, now=now,
                              writer=writer, token_use=token_use)
    return declaration, person


async def create_paper_declaration(
    session: AsyncSession, actor: Actor, data: DeclarationIn, *, keyring: Keyring,
    now: datetime | None = None,
) -> Declaration:
    """An officer enters a paper form: ID, name and date of birth must match the register."""
    _require(actor, Permission.DECLARATIONS_PAPER)
    now = now or utcnow()
    problems = Problems()
    clean = check_trip(data, await places(session), local_today(now), problems)
    problems.raise_first()
    person = await repo.person_by_national_id(session, clean.national_id)
    if person is None:
        raise ValidationFailed("No person with this ID number in the register.", field="national_id")
    _match_register(person, data, required=True)
    existing = await repo.valid_duplicate(session, person.id, data.travel_date, data.destination_unit_code,
                                          now)
    if existing is not None:
        raise Conflict("This person already has a valid pass for this date and destination (declaration "
                       "{id}): print it again instead.", field="national_id", params={"id": existing},
                       details={"declaration_id": existing})
    return await issue(session, actor, person, data, phone=clean.phone, plate=clean.vehicle_plate,
                        detail=clean.transport_detail, source="paper", keyring=keyring, now=now)


# --- reading --------------------------------------------------------------------------------------

def _in_subtree(actor: Actor, units: dict[str, Place], *codes: str) -> bool:
    return any((u := units.get(c)) is not None and u.path.startswith(actor.unit_path) for c in codes)


async def _access(session: AsyncSession, actor: Actor, decl: Declaration, person: Person,
                  units: dict[str, Place]) -> Access | None:
    if actor.person_id is not None:
        if decl.person_id == actor.person_id or decl.declared_by_id == actor.account_id:
            return "owner"
        if person.household_id and await repo.readable_person_by_national_id(
            session, actor, person.national_id
        ):
            return "owner"
    if decl.entered_by_id == actor.account_id and actor.can(Permission.DECLARATIONS_PAPER):
        return "entered"
    if actor.can(Permission.DECLARATIONS_READ) and _in_subtree(
        actor, units, decl.origin_unit_code, decl.destination_unit_code
    ):
        return "official"
    return None


def to_summary(decl: Declaration, person: Person, units: dict[str, Place], now: datetime
               ) -> DeclarationSummary:
    return DeclarationSummary(
        id=decl.id, person_id=decl.person_id, full_name=person.full_name, id_last4=person.national_id[-4:],
        source=decl.source,
        origin_unit_code=decl.origin_unit_code, origin_name=place_label(units, decl.origin_unit_code),
        destination_unit_code=decl.destination_unit_code,
        destination_name=place_label(units, decl.destination_unit_code), travel_date=decl.travel_date,
        transport=decl.transport, status=derived_status(decl.status, decl.expires_at, now),
        expires_at=decl.expires_at, created_at=decl.created_at,
    )


def to_out(decl: Declaration, person: Person, units: dict[str, Place], now: datetime, *,
           with_code: bool) -> DeclarationOut:
    summary = to_summary(decl, person, units, now)
    return DeclarationOut(
        **summary.model_dump(), dob=person.dob, phone=decl.phone, origin_address=decl.origin_address,
        destination_address=decl.destination_address, return_date=decl.return_date,
        vehicle_plate=decl.vehicle_plate, transport_detail=decl.transport_detail, purpose=decl.purpose,
        places_visited=decl.places_visited, symptoms=list(decl.symptoms or []),
        exposures=list(decl.exposures or []), pass_id=decl.pass_id,
        pass_code=decl.pass_code if with_code else None, issued_at=decl.issued_at,
        revoked_at=decl.revoked_at, revoke_reason=decl.revoke_reason, declared_by_id=decl.declared_by_id,
        entered_by_id=decl.entered_by_id,
    )


async def _load(session: AsyncSession, actor: Actor, declaration_id: int, action: str, purpose: Purpose | None
                ) -> tuple[Declaration, Person, Access, dict[str, Place]]:
    found = await repo.get(session, declaration_id)
    units = await places(session)
    if found is None:
        raise NotFound(NO_DECLARATION)
    decl, person = found
    access = await _access(session, actor, decl, person, units)
    if access is None:
        if actor.is_staff and actor.can(Permission.DECLARATIONS_READ):
            await record_event(session, actor, action, person_id=person.id, subject_type="declaration",
                               subject_id=decl.id, purpose=str(purpose) if purpose else None,
                               outcome="denied")
            raise Forbidden("This declaration is outside your jurisdiction.")
        raise NotFound(NO_DECLARATION)
    return decl, person, access, units


async def read_declaration(
    session: AsyncSession, actor: Actor, declaration_id: int, purpose: Purpose | None = None,
    *, now: datetime | None = None,
) -> DeclarationOut:
    """The declaration and its pass. Officials must give a purpose; every staff read is audited."""
    decl, person, access, units = await _load(session, actor, declaration_id, "declaration:read", purpose)
    if access == "official" and purpose is None:
        raise ValidationFailed("Say why you open this declaration.", field="purpose")
    if access != "owner":
        await record_event(session, actor, "declaration:read", person_id=person.id,
                           subject_type="declaration", subject_id=decl.id,
                           purpose=str(purpose or Purpose.CITIZEN_REQUEST))
    return to_out(decl, person, units, now or utcnow(), with_code=access != "official")


async def as_created(session: AsyncSession, declaration: Declaration) -> DeclarationOut:
    """The declaration as its maker sees it right after submitting (not a read of someone else's data)."""
    person = await session.get(Person, declaration.person_id)  # already in the session: no query
    if person is None:
        raise NotFound(NO_DECLARATION)
    return to_out(declaration, person, await places(session), utcnow(), with_code=True)


async def passes_to_print(session: AsyncSession, actor: Actor, ids: list[int],
                          *, action: str = "declarations:print") -> list[DeclarationOut]:
    """Passes the actor may print (their own and household's, or those they entered), in the given order."""
    units, now = await places(session), utcnow()
    out: dict[int, DeclarationOut] = {}
    for decl, person in await repo.get_many(session, ids):
        access = await _access(session, actor, decl, person, units)
        if access in ("owner", "entered"):
            out[decl.id] = to_out(decl, person, units, now, with_code=True)
    if out and actor.is_staff:
        await record_event(session, actor, action, subject_type="declaration",
                           purpose=str(Purpose.CITIZEN_REQUEST), details={"ids": sorted(out)[:200]})
    return [out[i] for i in ids if i in out]


async def revoke_declaration(
    session: AsyncSession, actor: Actor, declaration_id: int, reason: str | None, *,
    now: datetime | None = None,
) -> DeclarationOut:
    """Revoke a pass: its holder (or whoever declared it), or an official of the origin or destination."""
    decl, person, access, units = await _load(session, actor, declaration_id, "declaration:revoke", None)
    if access != "owner":
        official = actor.can(Permission.DECLARATIONS_REVOKE) and _in_subtree(
            actor, units, decl.origin_unit_code, decl.destination_unit_code)
        if not official:
            raise Forbidden("Your role does not allow revoking this pass.")
        access = "official"
        if not reason:
            raise ValidationFailed("Give the reason for revoking this pass.", field="reason")
    if decl.status == "revoked":
        raise Conflict("This pass is already revoked.")
    now = now or utcnow()
    decl.status, decl.revoked_at, decl.revoked_by_id = "revoked", now, actor.account_id
    decl.revoke_reason = (reason or "").strip()[:200] or None
    await session.flush()
    await record_event(session, actor, "declaration:revoke", person_id=person.id, subject_type="declaration",
                       subject_id=decl.id, details={"reason": decl.revoke_reason, "by": access})
    return to_out(decl, person, units, now, with_code=access != "official")


async def my_declarations(session: AsyncSession, actor: Actor, page: int = 1, size: int = 20
                          ) -> Page[DeclarationSummary]:
    """A citizen's history (own, and household members' they declared); an officer's entered paper forms."""
    rows, total = await repo.page_of(session, [repo.mine(actor)], offset=(page - 1) * size, limit=size)
    units, now = await places(session), utcnow()
    return Page(items=[to_summary(d, p, units, now) for d, p in rows], total=total, page=page, size=size)


async def list_declarations(session: AsyncSession, actor: Actor, query: DeclarationQuery,
                            *, now: datetime | None = None) -> Page[DeclarationSummary]:
    """Officials: declarations to or from their jurisdiction, newest first; one audited event per page."""
    _require(actor, Permission.DECLARATIONS_READ)
    now = now or utcnow()
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise ValidationFailed("The start date is after the end date.", field="date_from")
    where = [repo.in_jurisdiction(actor), *repo.filters(
        date_from=query.date_from, date_to=query.date_to, origin=query.origin, destination=query.destination,
        status=query.status, now=now)]
    rows, total = await repo.page_of(session, where, offset=(query.page - 1) * query.size, limit=query.size)
    units = await places(session)
    await record_event(session, actor, "declarations:list", details={
        "filters": query.model_dump(mode="json", exclude={"page", "size"}, exclude_none=True),
        "page": query.page, "results": total})
    return Page(items=[to_summary(d, p, units, now) for d, p in rows], total=total, page=query.page,
                size=query.size)


# --- the citizen's form ---------------------------------------------------------------------------

@dataclass(slots=True)
class NewForm:
    form: dict[str, object]
    members: list[HouseholdOption]
    chosen: HouseholdOption
    labels: dict[str, str]


async def new_form(session: AsyncSession, actor: Actor, person_id: int | None = None,
                   *, now: datetime | None = None) -> NewForm:
    """'Declare once': the form prefilled from the register and the last declaration."""
    _require(actor, Permission.DECLARATIONS_CREATE)
    people = await repo.readable_household(session, actor)
    if not people:
        raise NotFound("This account is not linked to a register record.")
    members = [HouseholdOption(p.id, p.national_id, p.full_name, p.dob, p.id == actor.person_id)
               for p in people]
    person = next((p for p in people if p.id == person_id), None) or next(
        (p for p in people if p.id == actor.person_id), people[0])
    last = await repo.last_of_person(session, person.id)
    if last is None and actor.person_id is not None and person.id != actor.person_id:
        last = await repo.last_of_person(session, actor.person_id)  # a family usually travels together
    form: dict[str, object] = {
        "national_id": person.national_id, "phone": person.phone or (last.phone if last else "") or "",
        "origin_unit_code": person.current_unit_code, "origin_address": person.current_address,
        "travel_date": local_today(now).isoformat(), "transport": "motorbike", "symptoms": [],
        "exposures": [],
    }
    if last is not None:
        destination, address = last.destination_unit_code, last.destination_address
        if destination == person.current_unit_code:  # the last trip came home: the next one goes back
            destination, address = last.origin_unit_code, last.origin_address
        form.update(destination_unit_code=destination, destination_address=address, transport=last.transport,
                    vehicle_plate=last.vehicle_plate or "", purpose=last.purpose)
    units = await places(session)
    labels = {str(c): place_label(units, str(c)) for c in (form.get("origin_unit_code"),
                                                           form.get("destination_unit_code")) if c}
    chosen = next(m for m in members if m.person_id == person.id)
    return NewForm(form=form, members=members, chosen=chosen, labels=labels)
