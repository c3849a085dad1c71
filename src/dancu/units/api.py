"""Units API: the unit picker used by forms across the app (public reference data)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from dancu.accounts.deps import DbSession, OptionalActor
from dancu.units import service
from dancu.units.schemas import UnitOut

router = APIRouter(prefix="/api/v1/units", tags=["units"])


@router.get("")
async def search_units(
    session: DbSession,
    actor: OptionalActor,
    q: Annotated[str, Query(max_length=100)] = "",
    level: Annotated[Literal["country", "province", "district", "commune"] | None, Query()] = None,
    within: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[UnitOut]:
    rows = await service.search_units(session, actor, q, level=level, within=within, limit=limit)
    return [UnitOut.model_validate(u) for u in rows]


@router.get("/{code}")
async def get_unit(code: str, session: DbSession) -> UnitOut:
    return UnitOut.model_validate(await service.get_unit(session, code))


@router.get("/{code}/children")
async def unit_children(code: str, session: DbSession) -> list[UnitOut]:
    await service.get_unit(session, code)
    return [UnitOut.model_validate(u) for u in await service.children(session, code)]
