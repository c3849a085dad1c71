"""record_event(): the one way anything is written to the audit log, and chain verification."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor
from dancu.audit import repository
from dancu.audit.models import AuditEvent
from dancu.core.db import after_rollback, is_postgresql, utcnow

GENESIS = "0" * 64
AUDIT_CHAINS = repository.SHARED_CHAINS  # parallel chains on PostgreSQL; SQLite serialises writers and uses one


_HASHED = ("id", "chain", "at", "actor_id", "actor_role", "actor_unit", "action", "outcome", "person_id",
           "subject_type", "subject_id", "purpose", "ip", "request_id", "details")


def _canonical(event: Mapping[str, Any]) -> bytes:
    body = {k: event[k] for k in _HASHED}
    body["at"] = event["at"].isoformat(timespec="microseconds")
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def chain_hash(prev_hash: str, event: AuditEvent | Mapping[str, Any]) -> str:
    """The hash of an event (a stored row or the column values about to be inserted) after `prev_hash`."""
    values = event if isinstance(event, Mapping) else {k: getattr(event, k) for k in _HASHED}
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(values)).hexdigest()


async def record_event(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    *,
    person_id: int | None = None,
    subject_type: str | None = None,
    subject_id: str | int | None = None,
    purpose: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    ip: str | None = None,
    at: datetime | None = None,
) -> int:
    """Append one event to the hash chain, in the caller's transaction; returns its id.

    The chain is extended under a lock held until the caller's commit, so events form one linear
    chain in id order even with concurrent writers. A denied attempt is recorded even when the
    unit of work then fails (the denial is re-recorded after the rollback).
    """
    if outcome == "denied" and not session.info.get("replaying_denials"):

        async def replay(s: AsyncSession) -> None:
            s.info["replaying_denials"] = True
            try:
                await record_event(
                    s,
                    actor,
                    action,
                    person_id=person_id,
                    subject_type=subject_type,
                    subject_id=subject_id,
                    purpose=purpose,
                    outcome=outcome,
                    details=details,
                    ip=ip,
                    at=at,
                )
            finally:
                s.info.pop("replaying_denials", None)

        after_rollback(session, replay)
    [event_id] = await record_events(session, [Event(
        actor, action, person_id=person_id, subject_type=subject_type, subject_id=subject_id, purpose=purpose,
        outcome=outcome, details=details, ip=ip, at=at,
    )])
    return event_id


@dataclass(frozen=True, slots=True)
class Event:
    """One event for `record_events` (the arguments of `record_event`)."""

    actor: Actor | None
    action: str
    person_id: int | None = None
    subject_type: str | None = None
    subject_id: str | int | None = None
    purpose: str | None = None
    outcome: str = "ok"
    details: dict[str, Any] | None = None
    ip: str | None = None
    at: datetime | None = None


def chain_for(session: AsyncSession) -> int:
    """The chain this transaction appends to: one per transaction (never two locks, so no deadlock), spread
    over AUDIT_CHAINS on PostgreSQL."""
    chain = session.info.get("audit_chain")
    if chain is None:
        chain = secrets.randbelow(AUDIT_CHAINS) if is_postgresql(session) else 0
        session.info["audit_chain"] = chain
    return int(chain)


def _row(e: Event, chain: int, event_id: int, now: datetime) -> dict[str, Any]:
    """An event's column values, hashes aside. (Column values, not ORM objects: this runs in every audited
    request and every batch of writes.)"""
    actor = e.actor
    return {
        "id": event_id,
        "chain": chain,
        "at": e.at or now,
        "actor_id": actor.account_id if actor else None,
        "actor_role": str(actor.role) if actor else None,
        "actor_unit": actor.unit_code if actor else None,
        "action": e.action,
        "outcome": e.outcome,
        "person_id": e.person_id,
        "subject_type": e.subject_type,
        "subject_id": str(e.subject_id) if e.subject_id is not None else None,
        "purpose": e.purpose,
        "ip": e.ip or (actor.ip if actor else None),
        "request_id": actor.request_id if actor else None,
        "details": e.details,
    }


async def record_events(session: AsyncSession, events: Sequence[Event]) -> list[int]:
    """Append events to one hash chain in the caller's transaction (one lock, one INSERT); their ids.

    For a batch of writes (group commit): a denied attempt goes through `record_event`, which also
    re-records it after a rollback."""
    if not events:
        return []
    chain = chain_for(session)
    prev_hash, ids = await repository.lock_chain_and_reserve(session, chain, len(events))
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for e, event_id in zip(events, ids, strict=True):
        row = _row(e, chain, event_id, now)
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = chain_hash(prev_hash, row)
        rows.append(row)
    await repository.insert(session, rows)
    return ids


@dataclass(frozen=True, slots=True)
class Appending:
    """Events to append inside another statement on PostgreSQL (`repository.pg_append_ctes`): their rows
    without the hashes, and the canonical bytes each hash covers after its predecessor's. The chain's lock
    was taken and the ids reserved by an earlier statement of the transaction (`repository.pg_lock_from`,
    `pg_reserve_ids`), so the appending statement's snapshot sees the chain's head."""

    chain: int
    rows: list[dict[str, Any]]
    canonical: list[bytes]


def appending(events: Sequence[Event], chain: int, ids: Sequence[int], now: datetime | None = None) -> Appending:
    at = now or utcnow()
    rows = [_row(e, chain, event_id, at) for e, event_id in zip(events, ids, strict=True)]
    return Appending(chain, rows, [_canonical(r) for r in rows])


@dataclass(frozen=True, slots=True)
class VerifyReport:
    checked: int
    ok: bool
    first_bad_id: int | None = None
    reason: str | None = None


async def verify_chain(session: AsyncSession, *, progress: Any = None) -> VerifyReport:
    """Walk every chain in id order; report the first event that was edited, inserted or deleted."""
    count = 0
    for chain in await repository.chains(session):
        prev = GENESIS
        events: AsyncIterator[AuditEvent] = repository.iter_chain(session, chain)
        async for event in events:
            count += 1
            if progress is not None:
                progress(count)
            if event.prev_hash != prev:
                return VerifyReport(
                    count,
                    False,
                    event.id,
                    f"chain {chain} broken before event {event.id}: an earlier event was deleted or replaced",
                )
            if chain_hash(prev, event) != event.hash:
                return VerifyReport(count, False, event.id, f"event {event.id} was edited after it was written")
            prev = event.hash
    return VerifyReport(count, True)
