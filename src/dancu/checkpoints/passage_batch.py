"""A batch of travel-pass passages on PostgreSQL in two statements (batch_repository.py), with the same
rules and outcomes as the general path in passages.py (`write_batch`).

If another process inserted one of the batch's idempotency keys between the two statements, the second one
writes nothing more than the passages, and `Raced` makes the group-commit writer roll the transaction back
and write the items one by one: each then finds its key recorded and answers as a replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.audit.service import appending, chain_for
from dancu.checkpoints import batch_repository as repo
from dancu.checkpoints.passage_repository import count_rows
from dancu.checkpoints.passages import Batch, Outcome, Pending, effects_of
from dancu.checkpoints.scanning import ALREADY_SCANNED_WINDOW, Lookups
from dancu.core.driver import driver
from dancu.notifications.service import active_webhooks, finish_notices, prepare_notices


class Raced(Exception):
    """An idempotency key of the batch was recorded by another transaction meanwhile."""


async def write_batch_pg(session: AsyncSession, pendings: Sequence[Pending], now: datetime,
                         pg: Any = None, owned: int | None = None) -> list[Outcome]:
    """In the session's transaction, or in that of `pg` (an asyncpg connection) when given: then `session` only
    serves the cached lookups and the per-transaction choices (audit chain, count shard).

    `owned`: the audit chain `pg` owns (`audit.repository.pg_claim_chain`); `pg` is then in no transaction and
    the batch is two statements that each commit on their own — the lookups, then every write in one
    statement, atomic by itself — or, when webhooks are active (their deliveries are a third statement),
    the writes in a transaction of their own."""
    if pg is None:
        pg = await driver(session)
    chain = owned if owned is not None else chain_for(session)
    readings = [p.reading for p in pendings]
    times = [p.item.scanned_at for p in pendings]
    context = await repo.context(
        pg, chain, len(pendings),
        sorted({r.pass_id for r in readings if r.kind == "travel_pass" and r.pass_id}),
        sorted({p.checkpoint_id for p in pendings}),
        min(times) - ALREADY_SCANNED_WINDOW, max(times) + ALREADY_SCANNED_WINDOW,
        sorted({p.item.idempotency_key for p in pendings}), now, owned=owned is not None,
    )
    batch = Batch.of(pendings, Lookups(passes=context.passes), now)
    batch.replays(context.existing)
    batch.already_scanned(context.recent)
    new = batch.new()
    ids = {row["idempotency_key"]: passage_id for row, passage_id in zip(new, context.passage_ids, strict=False)}
    for row in new:
        row["id"] = ids[row["idempotency_key"]]
    created = batch.settle(ids, {})
    if created:
        effects = await effects_of(session, created)
        notices = await prepare_notices(session, effects.movements)
        # Read once: with deliveries to write, the writes need a transaction (an owned chain has none).
        hooks = await active_webhooks(session)
        async with pg.transaction() if owned is not None and hooks else nullcontext():
            ok, notice_ids = await repo.write(
                pg, [row for row, _, _ in created], notices.rows, count_rows(session, effects.counts),
                appending([effects.event], chain, [context.audit_id], now), owned=owned is not None,
            )
            if not ok:
                raise Raced(f"an idempotency key of this batch of {len(created)} was recorded meanwhile")
            await finish_notices(session, notices, notice_ids, pg, hooks)
    return batch.results()
