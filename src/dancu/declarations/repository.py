"""Queries of declarations. Only this module builds declaration queries.

`in_jurisdiction(actor)` is the single place that decides which declarations an official may list and
open: those whose origin or destination lies in the actor's unit subtree. A citizen's own declarations are
those about themselves or that they made (for a household member); an officer's are those they entered.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor
from dancu.core.db import detached, is_postgresql
from dancu.core.driver import driver
from dancu.declarations.models import Declaration
from dancu.declarations.schemas import PassStatus, Status
from dancu.registry.models import Person
from dancu.registry.repository import readable
from dancu.units.models import COUNTRY_CODE, Unit

_PASS_COLUMNS = (
    Declaration.id, Declaration.person_id, Declaration.pass_id, Declaration.status, Declaration.expires_at,
    Declaration.revoked_at, Declaration.origin_unit_code, Declaration.destination_unit_code,
    Declaration.travel_date, Person.full_name, Person.dob, Person.national_id, Declaration.vehicle_plate,
)


def derived_status(status: str, expires_at: datetime, now: datetime) -> Status:
    if status == "revoked":
        return "revoked"
    return "expired" if now >= expires_at else "valid"


def _pass_status(row: Any, now: datetime) -> PassStatus:
    (decl_id, person_id, pass_id, status, expires_at, revoked_at, origin, destination, travel_date,
     full_name, dob, national_id, plate) = row
    return PassStatus(
        declaration_id=decl_id, person_id=person_id, pass_id=pass_id,
        status=derived_status(status, expires_at, now), expires_at=expires_at, revoked_at=revoked_at,
        origin_unit_code=origin, destination_unit_code=destination, travel_date=travel_date,
        full_name=full_name, dob=dob, id_last4=national_id[-4:], vehicle_plate=plate,
    )


async def pass_status(
    session: AsyncSession, pass_id: str, *, now: datetime | None = None
) -> PassStatus | None:
    """The state of one travel pass by its pass id (unique index), with the holder from the register."""
    row = (
        await session.execute(
            select(*_PASS_COLUMNS).join(Person, Person.id == Declaration.person_id)
            .where(Declaration.pass_id == pass_id)
        )
    ).first()
    return _pass_status(row, now or datetime.now(UTC)) if row else None


async def pass_statuses(
    session: AsyncSession, pass_ids: Collection[str], *, now: datetime | None = None
) -> dict[str, PassStatus]:
    """Many passes in one query (a checkpoint's batch of scans), keyed by pass id."""
    if not pass_ids:
        return {}
    at = now or datetime.now(UTC)
    if is_postgresql(session):
        rows: Sequence[Any] = await (await driver(session)).fetch(_TRAVEL_STATUSES_PG, list(set(pass_ids)))
    else:
        rows = (await session.execute(_PASS_STATUSES, {"pass_ids": list(set(pass_ids))})).all()
    return {r[2]: _pass_status(r, at) for r in rows}


# Built once: this runs for every batch of checkpoint scans, where building a statement costs more than running it.
_PASS_STATUSES = (
    select(*_PASS_COLUMNS).join(Person, Person.id == Declaration.person_id)
    .where(Declaration.pass_id.in_(bindparam("pass_ids", expanding=True)))
)
# The same for asyncpg, one shape for any number of passes.
_TRAVEL_STATUSES_PG = (
    "SELECT d.id, d.person_id, d.pass_id, d.status, d.expires_at, d.revoked_at, d.origin_unit_code,"
    " d.destination_unit_code, d.travel_date, p.full_name, p.dob, p.national_id, d.vehicle_plate"
    " FROM declarations d JOIN persons p ON p.id = d.person_id WHERE d.pass_id = ANY($1::varchar[])"
)


# --- persons and units ------------------------------------------------------------------------------

async def readable_person_by_national_id(
    session: AsyncSession, actor: Actor, national_id: str
) -> Person | None:
    """The person with this ID number if the actor may read them (a citizen: self and household)."""
    return await session.scalar(select(Person).where(Person.national_id == national_id, readable(actor)))


async def person_by_national_id(session: AsyncSession, national_id: str) -> Person | None:
    """For the register check of a declaration (an identity check, not browsing). On PostgreSQL the row comes
    through the driver and the Person is `detached` (read only, in no session): the ORM's query and object
    building were ~10 % of a declaration's CPU."""
    if not is_postgresql(session):
        return await session.scalar(_PERSON_BY_NATIONAL_ID, {"national_id": national_id})
    row = await (await driver(session)).fetchrow(_PG_PERSON_BY_NATIONAL_ID, national_id)
    return None if row is None else detached(Person, dict(row))


_PERSON_BY_NATIONAL_ID = select(Person).where(Person.national_id == bindparam("national_id"))  # built once
_PG_PERSON_BY_NATIONAL_ID = (f"SELECT {', '.join(c.name for c in Person.__table__.columns)} FROM persons "
                             "WHERE national_id = $1")


async def readable_household(session: AsyncSession, actor: Actor) -> Sequence[Person]:
    """The citizen and the members of their household, oldest first."""
    return (await session.scalars(select(Person).where(readable(actor)).order_by(Person.dob, Person.id)
                                  .limit(50))).all()


# --- writing ------------------------------------------------------------------------------------------

async def reserve_ids(session: AsyncSession, n: int) -> list[int]:
    """`n` declaration ids from the table's sequence (PostgreSQL), so a pass can be signed before its insert."""
    rows = await session.execute(
        text("SELECT nextval(pg_get_serial_sequence('declarations', 'id')) FROM generate_series(1, :n)"), {"n": n})
    return [int(r[0]) for r in rows]


async def add(session: AsyncSession, declaration: Declaration) -> Declaration:
    session.add(declaration)
    await session.flush()
    return declaration


async def get(session: AsyncSession, declaration_id: int) -> tuple[Declaration, Person] | None:
    row = (
        await session.execute(
            select(Declaration, Person).join(Person, Person.id == Declaration.person_id)
            .where(Declaration.id == declaration_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def get_many(session: AsyncSession, ids: Collection[int]) -> list[tuple[Declaration, Person]]:
    if not ids:
        return []
    rows = (
        await session.execute(
            select(Declaration, Person).join(Person, Person.id == Declaration.person_id)
            .where(Declaration.id.in_(set(ids))).order_by(Declaration.id)
        )
    ).all()
    return [(r[0], r[1]) for r in rows]


async def last_of_person(session: AsyncSession, person_id: int) -> Declaration | None:
    return await session.scalar(
        select(Declaration).where(Declaration.person_id == person_id)
        .order_by(Declaration.created_at.desc(), Declaration.id.desc()).limit(1)
    )


async def valid_duplicate(
    session: AsyncSession, person_id: int, travel_date: date, destination: str, now: datetime
) -> int | None:
    """The id of a valid (not revoked, not expired) declaration with the same person, date and destination."""
    return await session.scalar(
        select(Declaration.id).where(
            Declaration.person_id == person_id, Declaration.travel_date == travel_date,
            Declaration.destination_unit_code == destination, Declaration.status == "valid",
            Declaration.expires_at > now,
        ).order_by(Declaration.id.desc()).limit(1)
    )


# --- lists ----------------------------------------------------------------------------------------------

def subtree(unit_path: str) -> Select[Any]:
    return select(Unit.code).where(Unit.path.startswith(unit_path, autoescape=True))


def in_jurisdiction(actor: Actor) -> ColumnElement[bool]:
    """Declarations whose origin or destination lies in the actor's unit subtree."""
    if actor.unit_path == f"{COUNTRY_CODE}/":
        return true()
    codes = subtree(actor.unit_path)
    return or_(Declaration.origin_unit_code.in_(codes), Declaration.destination_unit_code.in_(codes))


def mine(actor: Actor) -> ColumnElement[bool]:
    """A citizen's declarations (about them, or made by them for a household member); staff: entered."""
    if actor.person_id is not None:
        return or_(Declaration.person_id == actor.person_id, Declaration.declared_by_id == actor.account_id)
    return or_(Declaration.entered_by_id == actor.account_id, Declaration.declared_by_id == actor.account_id)


def _status_filter(status: Status, now: datetime) -> ColumnElement[bool]:
    if status == "revoked":
        return Declaration.status == "revoked"
    if status == "expired":
        return and_(Declaration.status == "valid", Declaration.expires_at <= now)
    return and_(Declaration.status == "valid", Declaration.expires_at > now)


def _unit_filter(column: Any, code: str) -> ColumnElement[bool]:
    # A province code selects all its communes; a commune code itself.
    return or_(column == code, column.in_(select(Unit.code).where(Unit.parent_code == code)))


Row = tuple[Declaration, Person]


async def page_of(
    session: AsyncSession, where: Sequence[ColumnElement[bool]], *, offset: int, limit: int
) -> tuple[list[Row], int]:
    total = await session.scalar(select(func.count()).select_from(Declaration).where(*where)) or 0
    rows = (
        await session.execute(
            select(Declaration, Person).join(Person, Person.id == Declaration.person_id).where(*where)
            .order_by(Declaration.created_at.desc(), Declaration.id.desc()).offset(offset).limit(limit)
        )
    ).all()
    return [(r[0], r[1]) for r in rows], total


def filters(
    *, date_from: date | None, date_to: date | None, origin: str | None, destination: str | None,
    status: Status | None, now: datetime,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if date_from:
        where.append(Declaration.travel_date >= date_from)
    if date_to:
        where.append(Declaration.travel_date <= date_to)
    if origin:
        where.append(_unit_filter(Declaration.origin_unit_code, origin))
    if destination:
        where.append(_unit_filter(Declaration.destination_unit_code, destination))
    if status:
        where.append(_status_filter(status, now))
    return where
