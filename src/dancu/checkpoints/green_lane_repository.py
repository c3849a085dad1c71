"""Queries of green-lane vehicles and passes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.checkpoints.models import GreenLanePass, Vehicle
from dancu.registry.models import Person
from dancu.units.models import Unit


async def add(session: AsyncSession, obj: Vehicle | GreenLanePass) -> None:
    session.add(obj)
    await session.flush()


async def vehicle(session: AsyncSession, vehicle_id: int) -> tuple[Vehicle, Unit] | None:
    row = (
        await session.execute(
            select(Vehicle, Unit).join(Unit, Unit.code == Vehicle.unit_code).where(Vehicle.id == vehicle_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def vehicle_by_plate(session: AsyncSession, plate: str) -> Vehicle | None:
    return await session.scalar(select(Vehicle).where(Vehicle.plate == plate))


async def search_vehicles(
    session: AsyncSession, unit_path: str, *, q: str | None, offset: int, limit: int
) -> tuple[list[Vehicle], int]:
    where = [Unit.path.startswith(unit_path, autoescape=True)]
    if q:
        like = f"%{q.lower()}%"
        where.append(or_(func.lower(Vehicle.plate).like(like), func.lower(Vehicle.owner_company).like(like)))
    base = select(Vehicle).join(Unit, Unit.code == Vehicle.unit_code).where(*where)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = (await session.scalars(base.order_by(Vehicle.plate).offset(offset).limit(limit))).all()
    return list(rows), total


async def driver_by_national_id(session: AsyncSession, national_id: str) -> Person | None:
    return await session.scalar(select(Person).where(Person.national_id == national_id))


async def green_pass(session: AsyncSession, pass_row_id: int) -> tuple[GreenLanePass, Vehicle, Unit, Person] | None:
    row = (
        await session.execute(
            select(GreenLanePass, Vehicle, Unit, Person)
            .join(Vehicle, Vehicle.id == GreenLanePass.vehicle_id)
            .join(Unit, Unit.code == Vehicle.unit_code)
            .join(Person, Person.id == GreenLanePass.driver_person_id)
            .where(GreenLanePass.id == pass_row_id)
        )
    ).first()
    return (row[0], row[1], row[2], row[3]) if row else None


async def passes_of(session: AsyncSession, vehicle_id: int, limit: int = 50) -> Sequence[tuple[GreenLanePass, Person]]:
    rows = (
        await session.execute(
            select(GreenLanePass, Person)
            .join(Person, Person.id == GreenLanePass.driver_person_id)
            .where(GreenLanePass.vehicle_id == vehicle_id)
            .order_by(GreenLanePass.issued_at.desc())
            .limit(limit)
        )
    ).all()
    return [(r[0], r[1]) for r in rows]
