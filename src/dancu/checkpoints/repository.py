"""Queries of checkpoints, officer assignments and unit labels. Only repositories build queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.models import Account
from dancu.checkpoints.models import Checkpoint, CheckpointAssignment
from dancu.units.models import Unit


def _in_subtree(unit_path: str) -> ColumnElement[bool]:
    return Unit.path.startswith(unit_path, autoescape=True)


async def add(session: AsyncSession, obj: Checkpoint | CheckpointAssignment) -> None:
    session.add(obj)
    await session.flush()


async def get(session: AsyncSession, checkpoint_id: int) -> tuple[Checkpoint, Unit] | None:
    row = (
        await session.execute(
            select(Checkpoint, Unit).join(Unit, Unit.code == Checkpoint.unit_code).where(Checkpoint.id == checkpoint_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def search(
    session: AsyncSession, unit_path: str, *, q: str | None, active: bool | None, offset: int, limit: int
) -> tuple[list[tuple[Checkpoint, Unit]], int]:
    where = [_in_subtree(unit_path)]
    if q:
        like = f"%{q.lower()}%"
        where.append(
            or_(
                func.lower(Checkpoint.name).like(like),
                Checkpoint.unit_code == q,
                func.lower(Unit.name).like(like),
            )
        )
    if active is not None:
        where.append(Checkpoint.active.is_(active))
    base = select(Checkpoint, Unit).join(Unit, Unit.code == Checkpoint.unit_code).where(*where)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = (await session.execute(base.order_by(Checkpoint.name, Checkpoint.id).offset(offset).limit(limit))).all()
    return [(r[0], r[1]) for r in rows], total


async def unit(session: AsyncSession, code: str) -> Unit | None:
    return await session.get(Unit, code)


async def assignment_of(session: AsyncSession, checkpoint_id: int, account_id: int) -> CheckpointAssignment | None:
    return await session.get(CheckpointAssignment, (checkpoint_id, account_id))


async def checkpoint_for_officer(
    session: AsyncSession, checkpoint_id: int, account_id: int
) -> tuple[Checkpoint, bool] | None:
    """The checkpoint and whether this account is assigned to it, in one query."""
    assigned = (
        select(CheckpointAssignment.account_id)
        .where(CheckpointAssignment.checkpoint_id == Checkpoint.id, CheckpointAssignment.account_id == account_id)
        .exists()
    )
    row = (await session.execute(select(Checkpoint, assigned).where(Checkpoint.id == checkpoint_id))).first()
    return (row[0], bool(row[1])) if row else None


async def officers_of(session: AsyncSession, checkpoint_id: int) -> Sequence[tuple[Account, datetime]]:
    rows = (
        await session.execute(
            select(Account, CheckpointAssignment.assigned_at)
            .join(CheckpointAssignment, CheckpointAssignment.account_id == Account.id)
            .where(CheckpointAssignment.checkpoint_id == checkpoint_id)
            .order_by(Account.username)
        )
    ).all()
    return [(r[0], r[1]) for r in rows]


async def checkpoints_of(session: AsyncSession, account_id: int) -> Sequence[tuple[Checkpoint, Unit]]:
    rows = (
        await session.execute(
            select(Checkpoint, Unit)
            .join(CheckpointAssignment, CheckpointAssignment.checkpoint_id == Checkpoint.id)
            .join(Unit, Unit.code == Checkpoint.unit_code)
            .where(CheckpointAssignment.account_id == account_id, Checkpoint.active.is_(True))
            .order_by(Checkpoint.name)
        )
    ).all()
    return [(r[0], r[1]) for r in rows]


async def account_with_unit(
    session: AsyncSession, *, username: str | None = None, account_id: int | None = None
) -> tuple[Account, Unit] | None:
    stmt = select(Account, Unit).join(Unit, Unit.code == Account.unit_code)
    stmt = stmt.where(Account.username == username) if username is not None else stmt.where(Account.id == account_id)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def unassign(session: AsyncSession, checkpoint_id: int, account_id: int) -> bool:
    result = await session.execute(
        delete(CheckpointAssignment).where(
            CheckpointAssignment.checkpoint_id == checkpoint_id, CheckpointAssignment.account_id == account_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def officer_options(session: AsyncSession, unit_path: str, q: str, limit: int = 15) -> Sequence[Account]:
    """Active checkpoint officers in a subtree whose username or name contains `q` (the assign picker)."""
    like = f"%{q.lower()}%"
    return (
        await session.scalars(
            select(Account)
            .join(Unit, Unit.code == Account.unit_code)
            .where(
                _in_subtree(unit_path),
                Account.role == "checkpoint_officer",
                Account.is_active.is_(True),
                or_(func.lower(Account.username).like(like), func.lower(Account.display_name).like(like)),
            )
            .order_by(Account.username)
            .limit(limit)
        )
    ).all()
