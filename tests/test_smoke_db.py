from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.units.models import IdProvince, Unit


async def test_units_loaded(session: AsyncSession) -> None:
    assert await session.scalar(select(func.count()).select_from(Unit).where(Unit.level == "province")) == 34
    assert await session.scalar(select(func.count()).select_from(Unit).where(Unit.level == "commune")) == 3321
    assert await session.scalar(select(func.count()).select_from(IdProvince)) == 63
