"""Report queries: read only the pre-aggregated passage_counts, never the passages themselves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.checkpoints.models import Checkpoint, PassageCount
from dancu.units.models import Unit

DIMENSIONS: dict[str, Any] = {
    "day": PassageCount.day,
    "hour": PassageCount.hour,
    "checkpoint": PassageCount.checkpoint_id,
    "origin_province": PassageCount.origin_province,
}


def _scope(unit_path: str, date_from: date, date_to: date, checkpoint_id: int | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        PassageCount.day >= date_from,
        PassageCount.day <= date_to,
        Unit.path.startswith(unit_path, autoescape=True),
    ]
    if checkpoint_id is not None:
        where.append(PassageCount.checkpoint_id == checkpoint_id)
    return where


async def grouped(
    session: AsyncSession,
    dimension: str,
    *,
    unit_path: str,
    date_from: date,
    date_to: date,
    checkpoint_id: int | None,
) -> Sequence[tuple[Any, str, bool, int]]:
    """(dimension value, decision, green_lane, count) summed over the other dimensions."""
    column = DIMENSIONS[dimension]
    stmt = (
        select(column, PassageCount.decision, PassageCount.green_lane, func.sum(PassageCount.count))
        .join(Checkpoint, Checkpoint.id == PassageCount.checkpoint_id)
        .join(Unit, Unit.code == Checkpoint.unit_code)
        .where(*_scope(unit_path, date_from, date_to, checkpoint_id))
        .group_by(column, PassageCount.decision, PassageCount.green_lane)
    )
    return [(r[0], r[1], bool(r[2]), int(r[3] or 0)) for r in (await session.execute(stmt)).all()]


async def refusals_by_reason(
    session: AsyncSession, *, unit_path: str, date_from: date, date_to: date, checkpoint_id: int | None
) -> dict[str, int]:
    stmt = (
        select(PassageCount.reason, func.sum(PassageCount.count))
        .join(Checkpoint, Checkpoint.id == PassageCount.checkpoint_id)
        .join(Unit, Unit.code == Checkpoint.unit_code)
        .where(*_scope(unit_path, date_from, date_to, checkpoint_id), PassageCount.decision == "refuse")
        .group_by(PassageCount.reason)
    )
    return {r[0] or "other": int(r[1] or 0) for r in (await session.execute(stmt)).all()}


async def checkpoint_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (await session.execute(select(Checkpoint.id, Checkpoint.name).where(Checkpoint.id.in_(ids)))).all()
    return {r[0]: r[1] for r in rows}
