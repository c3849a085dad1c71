"""Managing checkpoints and their officers, inside the official's own unit subtree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.models import Account
from dancu.accounts.permissions import Actor, Permission, Role
from dancu.audit.service import record_event
from dancu.checkpoints import repository as repo
from dancu.checkpoints.models import Checkpoint, CheckpointAssignment
from dancu.checkpoints.schemas import CheckpointCreate, CheckpointOut, CheckpointUpdate, OfficerOut
from dancu.core.db import utcnow
from dancu.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dancu.core.pagination import Page
from dancu.units.models import Unit


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden("Your role does not allow this.")


def _inside(actor: Actor, unit: Unit) -> bool:
    return unit.path.startswith(actor.unit_path)


def to_out(checkpoint: Checkpoint, unit: Unit | None) -> CheckpointOut:
    out = CheckpointOut.model_validate(checkpoint)
    out.unit_name = unit.name if unit is not None else None
    return out


async def _unit_inside(session: AsyncSession, actor: Actor, code: str, field: str = "unit_code") -> Unit:
    unit = await repo.unit(session, code.strip())
    if unit is None:
        raise ValidationFailed("Unknown unit code {code}.", field=field, params={"code": code.strip()[:10]})
    if not _inside(actor, unit):
        raise Forbidden("This unit is outside your jurisdiction.", field=field)
    return unit


async def managed(session: AsyncSession, actor: Actor, checkpoint_id: int) -> tuple[Checkpoint, Unit]:
    """A checkpoint the actor manages (CHECKPOINTS_MANAGE, inside their subtree)."""
    _require(actor, Permission.CHECKPOINTS_MANAGE)
    found = await repo.get(session, checkpoint_id)
    if found is None:
        raise NotFound("No such checkpoint.")
    if not _inside(actor, found[1]):
        raise Forbidden("This checkpoint is outside your jurisdiction.")
    return found


async def create_checkpoint(session: AsyncSession, actor: Actor, data: CheckpointCreate) -> CheckpointOut:
    _require(actor, Permission.CHECKPOINTS_MANAGE)
    unit = await _unit_inside(session, actor, data.unit_code)
    checkpoint = Checkpoint(
        name=data.name,
        unit_code=unit.code,
        kind=data.kind,
        lat=data.lat,
        lon=data.lon,
        active=data.active,
        created_by_id=actor.account_id,
        created_at=utcnow(),
    )
    await repo.add(session, checkpoint)
    await record_event(
        session,
        actor,
        "checkpoint:create",
        subject_type="checkpoint",
        subject_id=checkpoint.id,
        details={"unit": unit.code, "kind": data.kind},
    )
    return to_out(checkpoint, unit)


async def update_checkpoint(
    session: AsyncSession, actor: Actor, checkpoint_id: int, data: CheckpointUpdate
) -> CheckpointOut:
    checkpoint, unit = await managed(session, actor, checkpoint_id)
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        checkpoint.name = " ".join(str(changes["name"]).split())
    if changes.get("kind") is not None:
        checkpoint.kind = str(changes["kind"])
    if "lat" in changes or "lon" in changes:
        lat, lon = changes.get("lat", checkpoint.lat), changes.get("lon", checkpoint.lon)
        if (lat is None) != (lon is None):
            raise ValidationFailed("Give both latitude and longitude, or neither.", field="lat")
        checkpoint.lat, checkpoint.lon = lat, lon
    if changes.get("active") is not None:
        checkpoint.active = bool(changes["active"])
    await session.flush()
    await record_event(
        session,
        actor,
        "checkpoint:update",
        subject_type="checkpoint",
        subject_id=checkpoint.id,
        details={"fields": sorted(changes)},
    )
    return to_out(checkpoint, unit)


async def get_checkpoint(session: AsyncSession, actor: Actor, checkpoint_id: int) -> CheckpointOut:
    checkpoint, unit = await managed(session, actor, checkpoint_id)
    return to_out(checkpoint, unit)


async def list_checkpoints(
    session: AsyncSession,
    actor: Actor,
    *,
    q: str | None = None,
    active: bool | None = None,
    page: int = 1,
    size: int = 20,
) -> Page[CheckpointOut]:
    _require(actor, Permission.CHECKPOINTS_MANAGE)
    q = (q or "").strip()[:120] or None
    rows, total = await repo.search(session, actor.unit_path, q=q, active=active, offset=(page - 1) * size, limit=size)
    return Page(items=[to_out(c, u) for c, u in rows], total=total, page=page, size=size)


def _officer_out(account: Account, assigned_at: datetime) -> OfficerOut:
    return OfficerOut(
        account_id=account.id,
        username=account.username,
        display_name=account.display_name,
        unit_code=account.unit_code,
        assigned_at=assigned_at,
    )


async def officers(session: AsyncSession, actor: Actor, checkpoint_id: int) -> list[OfficerOut]:
    await managed(session, actor, checkpoint_id)
    return [_officer_out(a, at) for a, at in await repo.officers_of(session, checkpoint_id)]


async def assign(
    session: AsyncSession,
    actor: Actor,
    checkpoint_id: int,
    *,
    username: str | None = None,
    account_id: int | None = None,
) -> OfficerOut:
    """Assign a checkpoint officer of the actor's subtree to a checkpoint of the actor's subtree."""
    checkpoint, _unit = await managed(session, actor, checkpoint_id)
    if username is None and account_id is None:
        raise ValidationFailed("Give the officer's username.", field="username")
    found = await repo.account_with_unit(
        session, username=username.strip().lower() if username else None, account_id=account_id
    )
    if found is None:
        raise ValidationFailed("No such account.", field="username")
    account, unit = found
    if not _inside(actor, unit):
        raise Forbidden("This account is outside your jurisdiction.", field="username")
    if account.role != Role.CHECKPOINT_OFFICER or not account.is_active:
        raise ValidationFailed("Only active checkpoint officer accounts can be assigned.", field="username")
    if await repo.assignment_of(session, checkpoint.id, account.id) is not None:
        raise Conflict("This officer is already assigned here.", field="username")
    assignment = CheckpointAssignment(
        checkpoint_id=checkpoint.id,
        account_id=account.id,
        assigned_by_id=actor.account_id,
        assigned_at=utcnow(),
    )
    await repo.add(session, assignment)
    await record_event(
        session,
        actor,
        "checkpoint:assign",
        subject_type="checkpoint",
        subject_id=checkpoint.id,
        details={"account_id": account.id},
    )
    return _officer_out(account, assignment.assigned_at)


async def unassign(session: AsyncSession, actor: Actor, checkpoint_id: int, account_id: int) -> None:
    checkpoint, _unit = await managed(session, actor, checkpoint_id)
    if not await repo.unassign(session, checkpoint.id, account_id):
        raise NotFound("This officer is not assigned here.")
    await record_event(
        session,
        actor,
        "checkpoint:unassign",
        subject_type="checkpoint",
        subject_id=checkpoint.id,
        details={"account_id": account_id},
    )


async def my_checkpoints(session: AsyncSession, actor: Actor) -> list[CheckpointOut]:
    """The active checkpoints this officer is assigned to."""
    _require(actor, Permission.PASSAGES_RECORD)
    return [to_out(c, u) for c, u in await repo.checkpoints_of(session, actor.account_id)]


async def officer_options(session: AsyncSession, actor: Actor, q: str) -> list[Account]:
    _require(actor, Permission.CHECKPOINTS_MANAGE)
    q = q.strip()[:64]
    return list(await repo.officer_options(session, actor.unit_path, q)) if q else []
