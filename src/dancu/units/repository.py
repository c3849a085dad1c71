"""Queries of administrative units."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.units.models import IdProvince, Unit


async def get(session: AsyncSession, code: str) -> Unit | None:
    return await session.get(Unit, code)


async def all_units(session: AsyncSession) -> list[tuple[str, str, str, str | None, str]]:
    """(code, name, level, parent code, path) of every unit: a few thousand short rows."""
    rows = await session.execute(select(Unit.code, Unit.name, Unit.level, Unit.parent_code, Unit.path))
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def get_many(session: AsyncSession, codes: set[str]) -> dict[str, Unit]:
    if not codes:
        return {}
    rows = (await session.scalars(select(Unit).where(Unit.code.in_(codes)))).all()
    return {u.code: u for u in rows}


async def all_codes(session: AsyncSession, level: str | None = None) -> set[str]:
    stmt = select(Unit.code)
    if level:
        stmt = stmt.where(Unit.level == level)
    return set((await session.scalars(stmt)).all())


async def children(session: AsyncSession, parent_code: str) -> Sequence[Unit]:
    return (await session.scalars(select(Unit).where(Unit.parent_code == parent_code).order_by(Unit.search_name))).all()


async def search(
    session: AsyncSession, folded: str, *, within_path: str | None, level: str | None, limit: int
) -> Sequence[Unit]:
    stmt = select(Unit)
    if folded:
        stmt = stmt.where(or_(Unit.search_name.contains(folded, autoescape=True), Unit.code == folded))
    if within_path:
        stmt = stmt.where(Unit.path.startswith(within_path, autoescape=True))
    if level:
        stmt = stmt.where(Unit.level == level)
    return (await session.scalars(stmt.order_by(Unit.depth, Unit.search_name).limit(limit))).all()


async def count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Unit)) or 0


async def replace_all(
    session: AsyncSession, units: list[dict[str, object]], id_provinces: list[dict[str, object]]
) -> None:
    """Load the unit tree. Units already referenced elsewhere stay; others are inserted or updated."""
    existing = await all_codes(session)
    new = [u for u in units if u["code"] not in existing]
    for u in units:
        if u["code"] in existing:
            obj = await session.get(Unit, u["code"])
            assert obj is not None
            for k, v in u.items():
                setattr(obj, k, v)
    if new:
        # Parents before children: the list is ordered by depth.
        await session.execute(insert(Unit), new)
    await session.execute(delete(IdProvince))
    await session.execute(insert(IdProvince), id_provinces)
    await session.flush()


async def id_province_map(session: AsyncSession) -> dict[str, str]:
    rows = (await session.execute(select(IdProvince.code, IdProvince.current_province_code))).all()
    return {r[0]: r[1] for r in rows}


async def codes_in_subtree(session: AsyncSession, path: str) -> set[str]:
    return set((await session.scalars(select(Unit.code).where(Unit.path.startswith(path, autoescape=True)))).all())
