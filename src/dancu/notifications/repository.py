"""Queries of notices, webhooks and deliveries. Every query of notices goes through `visible_notices()`.

`visible_notices(actor)` is the single place that decides which notices an account may see: those sent
to a unit in the actor's subtree (a commune official sees their commune's, a province official the
province's communes', a national account all), and only for accounts holding NOTICES_READ.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVarTuple, cast

from sqlalchemy import ColumnElement, Select, Table, false, func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dancu.accounts.permissions import Actor, Permission
from dancu.checkpoints.models import Checkpoint
from dancu.core.db import PgInsert, is_postgresql
from dancu.core.driver import driver
from dancu.notifications.models import Notice, Webhook, WebhookDelivery
from dancu.notifications.schemas import NoticeFilter
from dancu.registry.models import Person
from dancu.units.models import COUNTRY_CODE, Unit

Origin = aliased(Unit, name="origin_unit")
Destination = aliased(Unit, name="destination_unit")
Ts = TypeVarTuple("Ts")
# notice, person name, ID number, origin name, destination name, checkpoint name
NoticeRow = tuple[Notice, str, str, str | None, str | None, str | None]


def subtree_codes(unit_path: str) -> Select[str]:
    return select(Unit.code).where(Unit.path.startswith(unit_path, autoescape=True))


def visible_notices(actor: Actor) -> ColumnElement[bool]:
    """The notices this actor may see, as a WHERE clause on Notice."""
    if not actor.can(Permission.NOTICES_READ):
        return false()
    if actor.unit_path == f"{COUNTRY_CODE}/":
        return true()
    return Notice.unit_code.in_(subtree_codes(actor.unit_path))


# --- producing ------------------------------------------------------------------------------------

async def active_webhook_paths(session: AsyncSession) -> list[tuple[int, str]]:
    """(webhook id, its unit's path) of every active webhook."""
    rows = await session.execute(
        select(Webhook.id, Unit.path).join(Unit, Unit.code == Webhook.unit_code)
        .where(Webhook.active.is_(True))
    )
    return [(r[0], r[1]) for r in rows]


async def add_all(session: AsyncSession, rows: Sequence[Notice | WebhookDelivery]) -> None:
    session.add_all(rows)
    await session.flush()


_INSERT_DELIVERIES_PG = PgInsert(cast(Table, WebhookDelivery.__table__),
                                 ("webhook_id", "notice_id", "status", "attempts", "next_attempt_at"))


async def pg_insert_deliveries(pg: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Webhook deliveries through the driver, in its transaction (a group-commit writer's own connection)."""
    await _INSERT_DELIVERIES_PG.execute(pg, rows)


_NOTICES = cast(Table, Notice.__table__)
_INSERT_NOTICES = insert(_NOTICES).returning(_NOTICES.c.id, sort_by_parameter_order=True)


async def insert_notices(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """One multi-row Core INSERT of notice rows (column dicts); their ids, in order. No ORM objects: this is
    on the checkpoint hot path. Pending ORM changes are flushed first (the declaration or passage the
    notices point at must be written before them)."""
    await session.flush()
    if is_postgresql(session):
        return [r[0] for r in await _INSERT_NOTICES_PG.fetch(await driver(session), rows)]
    return list((await session.execute(_INSERT_NOTICES, list(rows))).scalars().all())


NOTICE_COLUMNS = ("unit_code", "kind", "source", "person_id", "declaration_id", "passage_id", "checkpoint_id",
                   "origin_unit_code", "origin_province", "destination_unit_code", "travel_date", "created_at")
# unnest keeps the rows' order, and so do the ids RETURNING gives back (one statement, its own sequence calls).
_INSERT_NOTICES_PG = PgInsert(_NOTICES, NOTICE_COLUMNS, "RETURNING id")


# --- the inbox ------------------------------------------------------------------------------------

def _filtered(stmt: Select[*Ts], actor: Actor, f: NoticeFilter) -> Select[*Ts]:
    stmt = stmt.where(visible_notices(actor))
    if f.date_from:
        stmt = stmt.where(Notice.travel_date >= f.date_from)
    if f.date_to:
        stmt = stmt.where(Notice.travel_date <= f.date_to)
    if f.kind:
        stmt = stmt.where(Notice.kind == f.kind)
    if f.checkpoint_id:
        stmt = stmt.where(Notice.checkpoint_id == f.checkpoint_id)
    if f.origin_province:
        stmt = stmt.where(Notice.origin_province == f.origin_province)
    if f.handled is True:
        stmt = stmt.where(Notice.handled_at.is_not(None))
    elif f.handled is False:
        stmt = stmt.where(Notice.handled_at.is_(None))
    return stmt


def _rows_base() -> Select[Notice, str, str, str, str, str]:
    """Notice rows with the person's name and ID number, unit names and the checkpoint's name."""
    return (
        select(Notice, Person.full_name, Person.national_id, Origin.name, Destination.name, Checkpoint.name)
        .join(Person, Person.id == Notice.person_id)
        .outerjoin(Origin, Origin.code == Notice.origin_unit_code)
        .outerjoin(Destination, Destination.code == Notice.destination_unit_code)
        .outerjoin(Checkpoint, Checkpoint.id == Notice.checkpoint_id)
    )


def _rows_stmt(actor: Actor, f: NoticeFilter) -> Select[Notice, str, str, str, str, str]:
    return _filtered(_rows_base(), actor, f)



async def count_notices(session: AsyncSession, actor: Actor, f: NoticeFilter) -> int:
    return await session.scalar(_filtered(select(func.count(Notice.id)), actor, f)) or 0


async def list_notices(
    session: AsyncSession, actor: Actor, f: NoticeFilter, *, offset: int, limit: int
) -> Sequence[NoticeRow]:
    stmt = _rows_stmt(actor, f).order_by(Notice.id.desc()).offset(offset).limit(limit)
    return (await session.execute(stmt)).tuples().all()


async def notices_after(
    session: AsyncSession, actor: Actor, f: NoticeFilter, after_id: int, *, limit: int = 50
) -> Sequence[NoticeRow]:
    """Notices newer than `after_id`, oldest first (the live stream; uses ix_notices_unit_code_id)."""
    stmt = _rows_stmt(actor, f).where(Notice.id > after_id).order_by(Notice.id).limit(limit)
    return (await session.execute(stmt)).tuples().all()


async def rows_for_ids(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> Sequence[NoticeRow]:
    stmt = _rows_stmt(actor, NoticeFilter()).where(Notice.id.in_(ids)).order_by(Notice.id.desc())
    return (await session.execute(stmt)).tuples().all()


async def stream_notices(
    session: AsyncSession, actor: Actor, f: NoticeFilter, *, limit: int, chunk: int = 1000
) -> AsyncIterator[Sequence[NoticeRow]]:
    """Notice rows newest first, in chunks, with a server-side cursor (the export)."""
    stmt = _rows_stmt(actor, f).order_by(Notice.id.desc()).limit(limit).execution_options(yield_per=chunk)
    result = await session.stream(stmt)
    async for part in result.partitions(chunk):
        yield cast("Sequence[NoticeRow]", part)


async def latest_visible_id(session: AsyncSession, actor: Actor) -> int:
    return await session.scalar(select(func.max(Notice.id)).where(visible_notices(actor))) or 0


async def visible_states(
    session: AsyncSession, actor: Actor, ids: Sequence[int]
) -> dict[int, datetime | None]:
    """id → handled_at of the given notices the actor may see."""
    rows = await session.execute(select(Notice.id, Notice.handled_at).where(visible_notices(actor),
                                                                            Notice.id.in_(ids)))
    return {r[0]: r[1] for r in rows}


async def mark_handled(session: AsyncSession, actor: Actor, ids: Sequence[int], at: datetime) -> list[int]:
    """Mark the unhandled ones among `ids`; returns the ids this call changed (a concurrent handler wins)."""
    result = await session.execute(
        update(Notice)
        .where(visible_notices(actor), Notice.id.in_(ids), Notice.handled_at.is_(None))
        .values(handled_at=at, handled_by_id=actor.account_id)
        .returning(Notice.id)
        .execution_options(synchronize_session=False)
    )
    return [r[0] for r in result]


async def provinces(session: AsyncSession) -> Sequence[tuple[str, str]]:
    stmt = select(Unit.code, Unit.name).where(Unit.level == "province").order_by(Unit.search_name)
    return (await session.execute(stmt)).tuples().all()


async def checkpoints_named(session: AsyncSession, text: str, limit: int) -> Sequence[tuple[int, str]]:
    stmt = select(Checkpoint.id, Checkpoint.name)
    if text.isdigit():
        stmt = stmt.where(Checkpoint.id == int(text))
    else:
        stmt = stmt.where(func.lower(Checkpoint.name).contains(text.lower(), autoescape=True))
    return (await session.execute(stmt.order_by(Checkpoint.name).limit(limit))).tuples().all()


async def checkpoint_name(session: AsyncSession, checkpoint_id: int) -> str | None:
    return await session.scalar(select(Checkpoint.name).where(Checkpoint.id == checkpoint_id))


# --- webhooks -------------------------------------------------------------------------------------

async def unit_in_subtree(session: AsyncSession, unit_code: str, unit_path: str) -> Unit | None:
    return await session.scalar(select(Unit).where(Unit.code == unit_code,
                                                   Unit.path.startswith(unit_path, autoescape=True)))


async def count_active_webhooks(session: AsyncSession, unit_code: str) -> int:
    return await session.scalar(select(func.count(Webhook.id)).where(Webhook.unit_code == unit_code,
                                                                     Webhook.active.is_(True))) or 0


async def add_webhook(session: AsyncSession, webhook: Webhook) -> Webhook:
    session.add(webhook)
    await session.flush()
    return webhook


async def webhooks_in_subtree(session: AsyncSession, unit_path: str) -> Sequence[Webhook]:
    stmt = select(Webhook).where(Webhook.unit_code.in_(subtree_codes(unit_path)))
    return (await session.scalars(stmt.order_by(Webhook.active.desc(), Webhook.id.desc()))).all()


async def get_webhook_in_subtree(session: AsyncSession, webhook_id: int, unit_path: str) -> Webhook | None:
    return await session.scalar(select(Webhook).where(Webhook.id == webhook_id,
                                                      Webhook.unit_code.in_(subtree_codes(unit_path))))


async def delivery_counts(session: AsyncSession, webhook_ids: Sequence[int]) -> dict[tuple[int, str], int]:
    if not webhook_ids:
        return {}
    rows = await session.execute(
        select(WebhookDelivery.webhook_id, WebhookDelivery.status, func.count(WebhookDelivery.id))
        .where(WebhookDelivery.webhook_id.in_(webhook_ids))
        .group_by(WebhookDelivery.webhook_id, WebhookDelivery.status)
    )
    return {(r[0], r[1]): r[2] for r in rows}


# --- deliveries -----------------------------------------------------------------------------------

async def claim_due(
    session: AsyncSession, now: datetime, limit: int, lease_until: datetime
) -> list[tuple[WebhookDelivery, Webhook]]:
    """Take up to `limit` due deliveries and lease them until `lease_until` (concurrent workers skip them)."""
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    deliveries = (await session.scalars(stmt)).all()
    if not deliveries:
        return []
    hooks = {w.id: w for w in (await session.scalars(
        select(Webhook).where(Webhook.id.in_({d.webhook_id for d in deliveries})))).all()}
    for d in deliveries:
        d.next_attempt_at = lease_until
    await session.flush()
    return [(d, hooks[d.webhook_id]) for d in deliveries]


async def notice_rows_unscoped(session: AsyncSession, ids: set[int]) -> dict[int, NoticeRow]:
    """For building webhook payloads (the subscription, not an actor, decides the scope)."""
    rows = (await session.execute(_rows_base().where(Notice.id.in_(ids)))).tuples().all()
    return {r[0].id: r for r in rows}


async def deliveries_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, WebhookDelivery]:
    rows = (await session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))).all()
    return {d.id: d for d in rows}
