"""The scanning-device contract as service functions, shared by the FastAPI routes (api.py) and the fast
routes (device_api.py) so both answer alike:

    scan_code      POST /api/v1/checkpoints/{id}/scan            -> ScanOut, records nothing
    record_one     POST /api/v1/checkpoints/{id}/passages        -> 201 new, 200 replay
    record_many    POST /api/v1/checkpoints/{id}/passages:batch  -> BatchOut, a status per item
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError

from dancu.accounts.permissions import Actor
from dancu.checkpoints.access import access_cache
from dancu.checkpoints.passages import Outcome, Pending, prepare
from dancu.checkpoints.recorder import get_recorder
from dancu.checkpoints.scan_service import check_code
from dancu.checkpoints.schemas import BatchItemOut, BatchOut, PassageIn, ScanOut
from dancu.core.db import Database, utcnow
from dancu.core.errors import Conflict, DomainError
from dancu.credentials.keys import Keyring, get_keyring


def keyring_of(app: FastAPI) -> Keyring:
    return get_keyring(app.state.settings)


class NotRecorded(DomainError):
    status_code = 503
    code = "not_recorded"


def raise_for(outcome: Outcome) -> None:
    """The HTTP error for a single passage that was not recorded."""
    if outcome.detail == "not_recorded":
        raise NotRecorded(outcome.message or "Not recorded: send it again.")
    if outcome.status == "error":
        raise Conflict(outcome.message or "Not recorded.", field="idempotency_key")


async def scan_code(app: FastAPI, actor: Actor, checkpoint_id: int, code: str) -> ScanOut:
    """Verify a code: verdict, reason and the fields to compare with the ID card. Records no passage."""
    db: Database = app.state.db
    async with db.unit_of_work() as session:
        checkpoint = await access_cache(app).checkpoint_for(db, actor, checkpoint_id, session)
        return await check_code(session, actor, checkpoint, code, keyring=keyring_of(app), now=utcnow())


async def record_one(app: FastAPI, actor: Actor, checkpoint_id: int, item: PassageIn) -> tuple[int, dict[str, Any]]:
    """Verify again and record one decision: (201, passage) once; (200, the same passage) for a replayed key
    or for a pass already confirmed here within the last minute. NotRecorded / Conflict otherwise."""
    recorder = get_recorder(app)
    with recorder.arriving():
        checkpoint = await access_cache(app).checkpoint_for(app.state.db, actor, checkpoint_id)
        pending = prepare(item, checkpoint_id=checkpoint.id, actor=actor, keyring=keyring_of(app), now=utcnow())
    [outcome] = await recorder.submit([pending])
    raise_for(outcome)
    return (201 if outcome.status == "created" else 200), outcome.to_json()


def _item_error(index: int, key: str | None, exc: DomainError | ValidationError) -> BatchItemOut:
    if isinstance(exc, DomainError):
        return BatchItemOut(index=index, idempotency_key=key, status="error", detail=exc.code, message=exc.message,
                            field=exc.field)
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or None
    return BatchItemOut(index=index, idempotency_key=key, status="error", detail="validation_failed",
                        message=f"{field}: {err.get('msg')}" if field else str(err.get("msg")), field=field)


async def record_many(app: FastAPI, actor: Actor, checkpoint_id: int, items: Sequence[Any]) -> BatchOut:
    """An offline device's queue: up to 1,000 passages, each answered on its own. One bad item never fails
    the others: it gets status "error" with a message."""
    checkpoint = await access_cache(app).checkpoint_for(app.state.db, actor, checkpoint_id)
    keyring, now = keyring_of(app), utcnow()
    results: list[BatchItemOut | None] = [None] * len(items)
    pending: list[tuple[int, Pending]] = []
    for index, raw in enumerate(items):
        if index and index % 50 == 0:
            await asyncio.sleep(0)  # 1,000 signature checks take ~0.2 s: let other requests through meanwhile
        key = raw.get("idempotency_key") if isinstance(raw, dict) else None
        key = key if isinstance(key, str) else None
        try:
            item = PassageIn.model_validate(raw)
            pending.append((index, prepare(item, checkpoint_id=checkpoint.id, actor=actor, keyring=keyring, now=now)))
        except (ValidationError, DomainError) as exc:
            results[index] = _item_error(index, key, exc)
    outcomes: list[Outcome] = await get_recorder(app).submit([p for _, p in pending])
    for (index, p), outcome in zip(pending, outcomes, strict=True):
        results[index] = BatchItemOut(index=index, idempotency_key=p.item.idempotency_key, status=outcome.status,
                                      detail=outcome.detail, message=outcome.message, passage=outcome.passage)
    done = [r for r in results if r is not None]
    return BatchOut(created=sum(r.status == "created" for r in done),
                    duplicate=sum(r.status == "duplicate" for r in done),
                    error=sum(r.status == "error" for r in done), items=done)
