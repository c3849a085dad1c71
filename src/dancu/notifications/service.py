"""Notices to communes: producing them (in the caller's transaction), the audited inbox, marking handled.

`notify_movement` runs on the checkpoint hot path (thousands per second): the units it needs and the list of
active webhooks are cached per process, so with no webhooks it costs the two notice inserts and nothing more.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Permission
from dancu.audit.service import record_event
from dancu.core.db import database_key, utcnow
from dancu.core.errors import Forbidden
from dancu.core.pagination import Page
from dancu.notifications import repository as repo
from dancu.notifications.models import WebhookDelivery
from dancu.notifications.schemas import HandledOut, NoticeFilter, NoticeOut, NoticeQuery
from dancu.units.service import unit_tree

WEBHOOK_CACHE_SECONDS = 5.0

# Per database URL: (loaded at, ((webhook id, unit path), ...)). Monotonic clock.
_webhooks: dict[str, tuple[float, tuple[tuple[int, str], ...]]] = {}


def invalidate_webhook_cache() -> None:
    """Forget the cached active webhooks (after a webhook is created or deactivated in this process)."""
    _webhooks.clear()


async def active_webhooks(session: AsyncSession) -> tuple[tuple[int, str], ...]:
    """The active webhooks as (id, unit path) (cached for WEBHOOK_CACHE_SECONDS): read once by a writer that
    must know before its write whether deliveries come with the notices, and given to `finish_notices`."""
    key = database_key(session)
    now = time.monotonic()
    cached = _webhooks.get(key)
    if cached is not None and now - cached[0] < WEBHOOK_CACHE_SECONDS:
        return cached[1]
    hooks = tuple(await repo.active_webhook_paths(session))
    _webhooks[key] = (now, hooks)
    return hooks


async def _unit_info(session: AsyncSession, codes: set[str]) -> dict[str, tuple[str | None, str]]:
    """code -> (parent code, path), from the units domain's cached tree."""
    tree = await unit_tree(session)
    return {c: (tree[c].parent_code, tree[c].path) for c in codes if c in tree}


def _province_of(unit_code: str, units: dict[str, tuple[str | None, str]]) -> str:
    info = units.get(unit_code)
    return (info[0] if info else None) or unit_code


@dataclass(frozen=True, slots=True)
class Movement:
    """One verified declaration or confirmed passage, for `notify_movements` (batches)."""

    source: str  # declaration | passage
    person_id: int
    origin_unit_code: str
    destination_unit_code: str
    travel_date: date
    declaration_id: int | None = None
    passage_id: int | None = None
    checkpoint_id: int | None = None


@dataclass(frozen=True, slots=True)
class NewNotice:
    """A notice just written by `notify_movements` (the row's columns that callers and webhooks use)."""

    id: int
    unit_code: str
    kind: str  # departure | arrival
    source: str
    person_id: int
    origin_unit_code: str
    origin_province: str
    destination_unit_code: str
    travel_date: date
    declaration_id: int | None
    passage_id: int | None
    checkpoint_id: int | None


@dataclass(frozen=True, slots=True)
class PreparedNotices:
    """The notice rows for some movements, ready to insert (`rows`, column dicts), with what `finish_notices`
    needs once they have ids."""

    sent: list[tuple[Movement, str, str, str]]  # movement, unit notified, kind, origin province
    rows: list[dict[str, Any]]
    units: dict[str, tuple[str | None, str]]
    now: datetime


async def prepare_notices(session: AsyncSession, movements: Sequence[Movement]) -> PreparedNotices:
    """A departure notice for the commune of origin and an arrival notice for the commune of destination of
    each movement (no database round trip when the unit tree is cached)."""
    units = await _unit_info(session, {m.origin_unit_code for m in movements}
                             | {m.destination_unit_code for m in movements})
    now = utcnow()
    sent: list[tuple[Movement, str, str, str]] = []
    for m in movements:
        province = _province_of(m.origin_unit_code, units)
        sent.append((m, m.origin_unit_code, "departure", province))
        sent.append((m, m.destination_unit_code, "arrival", province))
    rows = [
        {"unit_code": unit, "kind": kind, "source": m.source, "person_id": m.person_id,
         "declaration_id": m.declaration_id, "passage_id": m.passage_id, "checkpoint_id": m.checkpoint_id,
         "origin_unit_code": m.origin_unit_code, "origin_province": province,
         "destination_unit_code": m.destination_unit_code, "travel_date": m.travel_date, "created_at": now}
        for m, unit, kind, province in sent
    ]
    return PreparedNotices(sent, rows, units, now)


async def finish_notices(session: AsyncSession, prepared: PreparedNotices, ids: Sequence[int],
                         pg: Any = None, hooks: tuple[tuple[int, str], ...] | None = None) -> list[NewNotice]:
    """The notices just inserted with these ids (in row order), and their webhook deliveries: in the session's
    transaction, or in that of `pg` (an asyncpg connection) when given. `hooks`: the active webhooks as the
    caller read them before its write (`active_webhooks`), so both decide alike; read here when not given."""
    notices = [
        NewNotice(notice_id, unit, kind, m.source, m.person_id, m.origin_unit_code, province,
                  m.destination_unit_code, m.travel_date, m.declaration_id, m.passage_id, m.checkpoint_id)
        for notice_id, (m, unit, kind, province) in zip(ids, prepared.sent, strict=True)
    ]
    if hooks is None:
        hooks = await active_webhooks(session)
    if hooks:
        units = prepared.units
        deliveries = [
            {"webhook_id": hook_id, "notice_id": n.id, "status": "pending", "attempts": 0,
             "next_attempt_at": prepared.now}
            for n in notices
            for hook_id, hook_path in hooks
            if n.unit_code in units and units[n.unit_code][1].startswith(hook_path)
        ]
        if deliveries and pg is not None:
            await repo.pg_insert_deliveries(pg, deliveries)
        elif deliveries:
            await repo.add_all(session, [WebhookDelivery(**d) for d in deliveries])
    return notices


async def notify_movements(session: AsyncSession, movements: Sequence[Movement]) -> list[NewNotice]:
    """Notices for many movements in one insert (a checkpoint device's queued batch); see notify_movement."""
    if not movements:
        return []
    prepared = await prepare_notices(session, movements)
    return await finish_notices(session, prepared, await repo.insert_notices(session, prepared.rows))


async def notify_movement(
    session: AsyncSession, *, source: str, person_id: int, origin_unit_code: str, destination_unit_code: str,
    travel_date: date, declaration_id: int | None = None, passage_id: int | None = None,
    checkpoint_id: int | None = None,
) -> list[NewNotice]:
    """Tell the commune of origin (a departure) and the commune of destination (an arrival).

    In the same transaction, enqueue one webhook delivery per active webhook whose unit's subtree holds
    the notified unit (the transactional outbox: a notice and its deliveries exist iff the cause does).
    Returns [departure, arrival].
    """
    return await notify_movements(session, [Movement(
        source=source, person_id=person_id, origin_unit_code=origin_unit_code,
        destination_unit_code=destination_unit_code, travel_date=travel_date, declaration_id=declaration_id,
        passage_id=passage_id, checkpoint_id=checkpoint_id,
    )])


# --- the inbox ------------------------------------------------------------------------------------

def require_reader(actor: Actor) -> None:
    if not actor.can(Permission.NOTICES_READ):
        raise Forbidden("Your role does not allow this.")


def to_out(row: repo.NoticeRow) -> NoticeOut:
    n, person_name, national_id, origin_name, destination_name, checkpoint_name = row
    return NoticeOut(
        id=n.id, kind=n.kind, source=n.source, unit_code=n.unit_code, person_id=n.person_id,
        person_name=person_name, national_id=national_id, origin_unit_code=n.origin_unit_code,
        origin_name=origin_name, origin_province=n.origin_province,
        destination_unit_code=n.destination_unit_code, destination_name=destination_name,
        travel_date=n.travel_date, checkpoint_id=n.checkpoint_id,
        checkpoint_name=checkpoint_name, declaration_id=n.declaration_id, passage_id=n.passage_id,
        created_at=n.created_at, handled_at=n.handled_at, handled_by_id=n.handled_by_id,
    )


async def list_notices(session: AsyncSession, actor: Actor, query: NoticeQuery) -> Page[NoticeOut]:
    """One page of the inbox, newest first. Opening it is one audited read (not one per person)."""
    require_reader(actor)
    f = NoticeFilter.model_validate(query.model_dump(exclude={"page", "size"}))
    total = await repo.count_notices(session, actor, f)
    rows = await repo.list_notices(session, actor, f, offset=(query.page - 1) * query.size, limit=query.size)
    await record_event(session, actor, "notices:list", details={
        "filters": f.as_query(), "page": query.page, "results": total, "shown": len(rows)})
    return Page(items=[to_out(r) for r in rows], total=total, page=query.page, size=query.size)


async def latest_id(session: AsyncSession, actor: Actor) -> int:
    require_reader(actor)
    return await repo.latest_visible_id(session, actor)


async def open_stream(session: AsyncSession, actor: Actor, f: NoticeFilter, after_id: int | None) -> int:
    """Start a live stream: audited once; returns the id after which notices are sent."""
    require_reader(actor)
    start = after_id if after_id is not None else await repo.latest_visible_id(session, actor)
    await record_event(session, actor, "notices:stream", details={"filters": f.as_query(), "after": start})
    return start


async def new_notices(session: AsyncSession, actor: Actor, f: NoticeFilter, after_id: int,
                      limit: int = 50) -> list[NoticeOut]:
    """Notices newer than `after_id` in the actor's scope and filter, oldest first."""
    require_reader(actor)
    return [to_out(r) for r in await repo.notices_after(session, actor, f, after_id, limit=limit)]


async def notices_by_id(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> list[NoticeOut]:
    require_reader(actor)
    return [to_out(r) for r in await repo.rows_for_ids(session, actor, ids)]


async def mark_handled(session: AsyncSession, actor: Actor, ids: Sequence[int]) -> HandledOut:
    """Mark notices handled. Idempotent: already handled ones keep who and when; unknown or out-of-scope
    ids are reported as not found. Audited once per call."""
    require_reader(actor)
    wanted = sorted(set(ids))
    states = await repo.visible_states(session, actor, wanted)
    todo = [i for i in wanted if i in states and states[i] is None]
    updated = await repo.mark_handled(session, actor, todo, utcnow()) if todo else []
    result = HandledOut(updated=sorted(updated), already_handled=[i for i in wanted if i in states and
                                                                   i not in set(updated)],
                        not_found=[i for i in wanted if i not in states])
    await record_event(
        session, actor, "notices:handle", subject_type="notice",
        subject_id=wanted[0] if len(wanted) == 1 else None,
        details={"updated": result.updated, "already_handled": result.already_handled,
                 "not_found": len(result.not_found)},
    )
    return result


async def provinces(session: AsyncSession) -> list[tuple[str, str]]:
    return list(await repo.provinces(session))


async def checkpoint_options(session: AsyncSession, actor: Actor, text: str) -> list[tuple[int, str]]:
    require_reader(actor)
    text = text.strip()[:100]
    return list(await repo.checkpoints_named(session, text, 15)) if text else []


async def checkpoint_name(session: AsyncSession, checkpoint_id: int | None) -> str | None:
    return await repo.checkpoint_name(session, checkpoint_id) if checkpoint_id else None
