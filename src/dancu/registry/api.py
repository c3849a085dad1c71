"""Register API: search, audited person reads, households, the citizen's own record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dancu.accounts.deps import CurrentActor, DbSession, require
from dancu.accounts.permissions import Actor, Permission, Purpose
from dancu.core.ids import RowId
from dancu.core.pagination import Page
from dancu.registry import service
from dancu.registry.schemas import PersonOut, PersonSearch, PersonSummary, ReadEventOut

router = APIRouter(prefix="/api/v1", tags=["registry"])
Reader = Annotated[Actor, Depends(require(Permission.REGISTRY_READ))]


@router.get("/persons")
async def search_persons(
    actor: Reader, session: DbSession, query: Annotated[PersonSearch, Query()]
) -> Page[PersonSummary]:
    return await service.search_persons(session, actor, query)


@router.get("/persons/{person_id}")
async def read_person(person_id: RowId, purpose: Purpose, actor: Reader, session: DbSession) -> PersonOut:
    """Open a record. `purpose` is required and recorded in the audit log."""
    return await service.read_person(session, actor, person_id, purpose)


@router.get("/persons/by-national-id/{national_id}")
async def read_by_national_id(national_id: str, purpose: Purpose, actor: Reader, session: DbSession) -> PersonOut:
    return await service.read_person_by_national_id(session, actor, national_id, purpose)


@router.get("/households/{household_id}")
async def household(household_id: str, purpose: Purpose, actor: Reader, session: DbSession) -> list[PersonSummary]:
    return await service.household(session, actor, household_id, purpose)


@router.get("/me/record")
async def my_record(actor: CurrentActor, session: DbSession) -> PersonOut:
    return await service.my_record(session, actor)


@router.get("/me/record/reads")
async def my_record_reads(
    actor: CurrentActor,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[ReadEventOut]:
    """Who read my record, when and why."""
    return await service.who_read_my_record(session, actor, page, size)
