"""Queries of the register. Every query of personal data goes through `readable()`.

`readable(actor)` is the single place that decides which persons an account may read: residents (current
or permanent) of the actor's unit subtree, and people who recently declared travel to or from it or passed
one of its checkpoints; a citizen reads their own household. Later domains widen it here (traced cases),
never at the call sites.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Role
from dancu.checkpoints.models import Checkpoint, Passage
from dancu.declarations.models import Declaration
from dancu.registry.models import ImportJob, Person
from dancu.units.models import COUNTRY_CODE, Unit

# How long travel to, from or through a jurisdiction keeps a person readable by its officials.
TRAVEL_SCOPE_DAYS = 30


def readable(actor: Actor) -> ColumnElement[bool]:
    """The persons this actor may read, as a WHERE clause on Person."""
    if actor.role is Role.CITIZEN:
        if actor.person_id is None:
            return false()
        own_household = select(Person.household_id).where(Person.id == actor.person_id).scalar_subquery()
        return or_(
            Person.id == actor.person_id, and_(Person.household_id.is_not(None), Person.household_id == own_household)
        )
    if actor.role in (Role.CHECKPOINT_OFFICER, Role.VENUE_STAFF):
        return false()  # they see only what a scan shows, never the register
    if actor.unit_path == f"{COUNTRY_CODE}/":
        return true()
    subtree = select(Unit.code).where(Unit.path.startswith(actor.unit_path, autoescape=True))
    since = date.today() - timedelta(days=TRAVEL_SCOPE_DAYS)
    travellers = select(Declaration.person_id).where(
        Declaration.travel_date >= since,
        or_(Declaration.origin_unit_code.in_(subtree), Declaration.destination_unit_code.in_(subtree)),
    )
    passed_through = (
        select(Passage.person_id)
        .join(Checkpoint, Checkpoint.id == Passage.checkpoint_id)
        .where(
            Passage.scanned_at >= datetime.combine(since, time(), tzinfo=UTC),
            Checkpoint.unit_code.in_(subtree),
            Passage.person_id.is_not(None),
        )
    )
    return or_(
        Person.current_unit_code.in_(subtree),
        Person.permanent_unit_code.in_(subtree),
        Person.id.in_(travellers),
        Person.id.in_(passed_through),
    )


async def get_with_scope(
    session: AsyncSession, actor: Actor, person_id: int | None = None, *, national_id: str | None = None
) -> tuple[Person | None, bool]:
    """The person (by id or ID number, if they exist) and whether the actor may read them, in one query."""
    key = Person.id == person_id if national_id is None else Person.national_id == national_id
    row = (await session.execute(select(Person, readable(actor).label("in_scope")).where(key))).first()
    return (row[0], bool(row[1])) if row else (None, False)


async def by_national_id_unscoped(session: AsyncSession, national_id: str) -> Person | None:
    """For identity checks that are not browsing (claiming a record, checking a declaration)."""
    return await session.scalar(select(Person).where(Person.national_id == national_id))


def _search_stmt(
    actor: Actor,
    *,
    folded_name: str | None,
    year: int | None,
    dob: date | None,
    national_id: str | None,
    household_id: str | None,
) -> Select[Person]:
    stmt = select(Person).where(readable(actor))
    if national_id:
        stmt = stmt.where(Person.national_id == national_id)
    if folded_name:
        stmt = stmt.where(
            Person.search_name.startswith(folded_name, autoescape=True)
            if len(folded_name) < 3
            else Person.search_name.contains(folded_name, autoescape=True)
        )
    if dob:
        stmt = stmt.where(Person.dob == dob)
    elif year:
        stmt = stmt.where(Person.dob >= date(year, 1, 1), Person.dob <= date(year, 12, 31))
    if household_id:
        stmt = stmt.where(Person.household_id == household_id)
    return stmt


async def search(
    session: AsyncSession,
    actor: Actor,
    *,
    folded_name: str | None = None,
    year: int | None = None,
    dob: date | None = None,
    national_id: str | None = None,
    household_id: str | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[Sequence[Person], int]:
    stmt = _search_stmt(
        actor, folded_name=folded_name, year=year, dob=dob, national_id=national_id, household_id=household_id
    )
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = (
        await session.scalars(stmt.order_by(Person.search_name, Person.dob, Person.id).offset(offset).limit(limit))
    ).all()
    return rows, total


async def household_members(session: AsyncSession, actor: Actor, household_id: str) -> Sequence[Person]:
    return (
        await session.scalars(
            select(Person).where(readable(actor), Person.household_id == household_id).order_by(Person.dob)
        )
    ).all()


async def count_people(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Person)) or 0


async def add_job(session: AsyncSession, job: ImportJob) -> ImportJob:
    session.add(job)
    await session.flush()
    return job


async def get_job(session: AsyncSession, job_id: int) -> ImportJob | None:
    return await session.get(ImportJob, job_id)


async def jobs_of_subtree(session: AsyncSession, unit_path: str, limit: int = 20) -> Sequence[ImportJob]:
    subtree = select(Unit.code).where(Unit.path.startswith(unit_path, autoescape=True))
    return (
        await session.scalars(
            select(ImportJob).where(ImportJob.unit_code.in_(subtree)).order_by(ImportJob.id.desc()).limit(limit)
        )
    ).all()
