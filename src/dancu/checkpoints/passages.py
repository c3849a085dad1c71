"""Recording passages: validate and verify a submission (per request), then write a batch in one transaction.

`prepare` runs in the request: field checks and the signature check (CPU only, no database). `write_batch`
runs for many submissions at once (the group-commit recorder calls it): one query per kind of lookup, the
idempotency and already-scanned rules, one INSERT … ON CONFLICT DO NOTHING, the notices, the count
upserts and a single audit event, all in the caller's transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor
from dancu.audit.service import Event, record_events
from dancu.checkpoints import labels
from dancu.checkpoints import passage_repository as repo
from dancu.checkpoints.models import Passage
from dancu.checkpoints.scanning import (
    ALREADY_SCANNED_WINDOW,
    Assessment,
    Lookups,
    Reading,
    assess,
    dedupe_key,
    read_code,
)
from dancu.checkpoints.schemas import PassageIn
from dancu.core.db import is_postgresql
from dancu.core.errors import ValidationFailed
from dancu.core.web import LOCAL_TZ
from dancu.credentials.cwt import TrustLookup
from dancu.notifications.service import Movement, notify_movements

CLOCK_SKEW = timedelta(minutes=2)
# Readings whose verdict needs more than the pass lookup: the general batch path looks them up.
PERSON_LOOKUPS = frozenset({"cccd", "manual", "green_lane"})
MAX_AGE = timedelta(days=7)
Status = Literal["created", "duplicate", "error"]
Created = tuple[dict[str, Any], Assessment, Actor]  # a passage row just inserted, its verdict, its officer


@dataclass(frozen=True, slots=True)
class Pending:
    """A submission that passed the field checks and whose code was read and verified."""

    item: PassageIn
    reading: Reading
    checkpoint_id: int
    actor: Actor

    @property
    def officer_id(self) -> int:
        return self.actor.account_id


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    detail: str  # recorded | idempotency_key_reused | already_scanned | key_conflict | ...
    passage: dict[str, Any] | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "passage": self.passage}


def check_time(scanned_at: datetime, now: datetime) -> None:
    if scanned_at > now + CLOCK_SKEW:
        raise ValidationFailed("scanned_at is in the future (check the device clock).", field="scanned_at")
    if scanned_at < now - MAX_AGE:
        raise ValidationFailed("scanned_at is more than 7 days old.", field="scanned_at")


def prepare(item: PassageIn, *, checkpoint_id: int, actor: Actor, keyring: TrustLookup, now: datetime) -> Pending:
    """Field checks and the signature check for one submission; ValidationFailed names the bad field."""
    check_time(item.scanned_at, now)
    reading = read_code(item.code, keyring=keyring, now=item.scanned_at)
    return Pending(item, reading, checkpoint_id, actor)


def passage_json(p: Passage | dict[str, Any]) -> dict[str, Any]:
    """The API shape of a passage (PassageOut), built without a model round-trip on the hot path."""
    get: Callable[[str], Any] = p.get if isinstance(p, dict) else lambda name: getattr(p, name)
    return {
        "id": get("id"),
        "idempotency_key": get("idempotency_key"),
        "checkpoint_id": get("checkpoint_id"),
        "officer_id": get("officer_id"),
        "code_kind": get("code_kind"),
        "pass_id": get("pass_id"),
        "verdict": get("verdict"),
        "decision": get("decision"),
        "reason": get("reason"),
        "method": get("method"),
        "direction": get("direction"),
        "green_lane": get("green_lane_pass_id") is not None,
        "scanned_at": get("scanned_at").isoformat(),
        "recorded_at": get("recorded_at").isoformat(),
    }


async def lookups_for(session: AsyncSession, readings: Sequence[Reading], now: datetime) -> Lookups:
    """Everything the verdicts of these readings need, one query per kind of code present."""
    travel = {r.pass_id for r in readings if r.kind == "travel_pass" and r.pass_id}
    green = {r.pass_id for r in readings if r.kind == "green_lane" and r.pass_id}
    ids = {r.national_id for r in readings if r.kind in ("cccd", "manual") and r.national_id}
    return Lookups(
        passes=await repo.pass_records(session, travel, now) if travel else {},
        green=await repo.green_records(session, green) if green else {},
        persons=await repo.persons_today(session, ids, now) if ids else {},
    )


def _row(p: Pending, a: Assessment, now: datetime) -> dict[str, Any]:
    item = p.item
    return {
        "idempotency_key": item.idempotency_key,
        "checkpoint_id": p.checkpoint_id,
        "officer_id": p.officer_id,
        "person_id": a.person_id,
        "declaration_id": a.declaration_id,
        "green_lane_pass_id": a.green_lane_pass_id,
        "pass_id": a.pass_id,
        "code_kind": a.code_kind,
        "direction": item.direction,
        "decision": item.decision,
        "verdict": a.verdict,
        "reason": item.reason,
        "reason_text": item.reason_text,
        "method": item.method,
        "origin_unit_code": a.origin_unit_code,
        "destination_unit_code": a.destination_unit_code,
        "device": item.device,
        "scanned_at": item.scanned_at,
        "recorded_at": now,
    }


def _already_scanned(
    row: dict[str, Any], key: tuple[str, str | int], earlier: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    for other in earlier:
        other_key = ("pass", other["pass_id"]) if other["pass_id"] else ("person", other["person_id"])
        if (
            other["checkpoint_id"] == row["checkpoint_id"]
            and other_key == key
            and abs(other["scanned_at"] - row["scanned_at"]) < ALREADY_SCANNED_WINDOW
        ):
            return other
    return None


def _as_dict(p: Passage) -> dict[str, Any]:
    return {c: getattr(p, c) for c in Passage.__table__.columns.keys()}  # noqa: SIM118


@dataclass(slots=True)
class Batch:
    """A batch of pendings on its way to the database: rows, verdicts and the outcomes decided so far."""

    pendings: Sequence[Pending]
    assessed: list[Assessment]
    rows: list[dict[str, Any]]
    outcomes: list[Outcome | None]
    todo: list[int]  # the first item of each idempotency key
    replay_of: dict[int, int]  # a later item with the same key -> its first item

    @classmethod
    def of(cls, pendings: Sequence[Pending], lookups: Lookups, now: datetime) -> Batch:
        assessed = [assess(p.reading, lookups, p.item.scanned_at) for p in pendings]
        rows = [_row(p, a, now) for p, a in zip(pendings, assessed, strict=True)]
        # A key repeated inside this batch answers like its first occurrence.
        first_of: dict[str, int] = {}
        replay_of: dict[int, int] = {}
        for i, row in enumerate(rows):
            key = row["idempotency_key"]
            if key in first_of:
                replay_of[i] = first_of[key]
            else:
                first_of[key] = i
        return cls(pendings, assessed, rows, [None] * len(rows), list(first_of.values()), replay_of)

    def keyed(self) -> list[tuple[int, tuple[str, str | int]]]:
        """Undecided confirmations and what identifies "the same pass" for each (the already-scanned rule)."""
        return [(i, k) for i in self.todo if self.outcomes[i] is None and self.rows[i]["decision"] == "confirm"
                and (k := dedupe_key(self.assessed[i]))]

    def replays(self, existing: dict[str, dict[str, Any]]) -> None:
        """Keys recorded earlier answer with the passage recorded then."""
        for i in self.todo:
            found = existing.get(self.rows[i]["idempotency_key"])
            if found is not None and self.outcomes[i] is None:
                self.outcomes[i] = _replayed(self.rows[i], found)

    def already_scanned(self, recent: Sequence[dict[str, Any]]) -> None:
        """The same pass (or person) confirmed at the same checkpoint within a minute — recorded earlier
        (`recent`, which includes the passage a replayed key recorded the first time) or earlier in this batch."""
        earlier: list[dict[str, Any]] = list(recent)
        for i, key in self.keyed():
            row = self.rows[i]
            match = _already_scanned(row, key, earlier)
            if match is not None and match["idempotency_key"] == row["idempotency_key"]:
                self.outcomes[i] = _replayed(row, match)
            elif match is not None:
                shown = passage_json(match) if "id" in match else None  # (None: a row of this batch, below)
                self.outcomes[i] = Outcome("duplicate", "already_scanned", shown)
            else:
                earlier.append(row)

    def new(self) -> list[dict[str, Any]]:
        return [self.rows[i] for i in self.todo if self.outcomes[i] is None]

    def settle(self, ids: dict[str, int], raced: dict[str, dict[str, Any]]) -> list[Created]:
        """Outcomes once the new rows were inserted (`ids`: key -> id of each row inserted; `raced`: rows of keys
        another process inserted meanwhile); returns the created passages, for their side effects."""
        created: list[Created] = []
        rows, outcomes = self.rows, self.outcomes
        for i in self.todo:
            row = rows[i]
            key = row["idempotency_key"]
            if outcomes[i] is not None:
                continue
            if key in ids:
                row["id"] = ids[key]
                created.append((row, self.assessed[i], self.pendings[i].actor))
                outcomes[i] = Outcome("created", "recorded", passage_json(row))
            elif key in raced:
                outcomes[i] = _replayed(row, raced[key])
        # An item already scanned earlier in this same batch points at the row inserted just now.
        for i in self.todo:
            o = outcomes[i]
            if o is not None and o.detail == "already_scanned" and o.passage is None:
                match = _already_scanned(rows[i], dedupe_key(self.assessed[i]) or ("", ""), [r for r, _, _ in created])
                outcomes[i] = Outcome("duplicate", "already_scanned", passage_json(match) if match else None)
        for i, first in self.replay_of.items():
            o = outcomes[first]
            outcomes[i] = o if o is None or o.status == "error" else Outcome("duplicate", "idempotency_key_reused",
                                                                            o.passage)
        return created

    def results(self) -> list[Outcome]:
        return [o if o is not None else Outcome("error", "not_recorded", None, "Not recorded.") for o in self.outcomes]


def pg_batchable(pendings: Sequence[Pending]) -> bool:
    """A batch that passage_batch.py writes on PostgreSQL: no reading needs a person looked up."""
    return all(p.reading.kind not in PERSON_LOOKUPS for p in pendings)


async def write_batch(session: AsyncSession, pendings: Sequence[Pending], now: datetime) -> list[Outcome]:
    """Record many passages in the caller's transaction; one outcome per pending, in order. On PostgreSQL a
    batch of travel passes takes two statements (passage_batch.py); anything else, this general way."""
    if is_postgresql(session) and pg_batchable(pendings):
        from dancu.checkpoints.passage_batch import write_batch_pg

        return await write_batch_pg(session, pendings, now)
    batch = Batch.of(pendings, await lookups_for(session, [p.reading for p in pendings], now), now)
    keyed = batch.keyed()
    if keyed:
        rows = batch.rows
        times = [rows[i]["scanned_at"] for i, _ in keyed]
        batch.already_scanned(await repo.recent_confirmed(
            session,
            {rows[i]["checkpoint_id"] for i, _ in keyed},
            {str(k[1]) for _, k in keyed if k[0] == "pass"},
            {int(k[1]) for _, k in keyed if k[0] == "person"},
            min(times) - ALREADY_SCANNED_WINDOW,
            max(times) + ALREADY_SCANNED_WINDOW,
        ))
    # Insert the rest; a key inserted meanwhile (or earlier, outside the window) is not inserted twice.
    new = batch.new()
    ids = await repo.insert_passages(session, new)
    lost = [r["idempotency_key"] for r in new if r["idempotency_key"] not in ids]
    raced = {k: _as_dict(p) for k, p in (await repo.by_keys(session, lost)).items()} if lost else {}
    created = batch.settle(ids, raced)
    await _side_effects(session, created)
    return batch.results()


def _replayed(row: dict[str, Any], found: dict[str, Any]) -> Outcome:
    if found["officer_id"] != row["officer_id"] or found["checkpoint_id"] != row["checkpoint_id"]:
        return Outcome("error", "key_conflict", None, "This idempotency_key was already used for another passage.")
    return Outcome("duplicate", "idempotency_key_reused", passage_json(found))


@dataclass(frozen=True, slots=True)
class Effects:
    """What recording passages entails besides their rows: notices, count increments, one audit event."""

    movements: list[Movement]
    counts: Counter[tuple[Any, ...]]
    event: Event


async def effects_of(session: AsyncSession, created: Sequence[Created]) -> Effects:
    info = await labels.unit_info(session, {row["origin_unit_code"] for row, _, _ in created})
    counts: Counter[tuple[Any, ...]] = Counter()
    movements: list[Movement] = []
    for row, a, _ in created:
        local = row["scanned_at"].astimezone(LOCAL_TZ)
        origin = row["origin_unit_code"]
        province = labels.province_of(info[origin][1]) if origin in info else ""
        key = (
            local.date(),
            row["checkpoint_id"],
            local.hour,
            province,
            row["decision"],
            row["reason"] or "",
            row["green_lane_pass_id"] is not None,
        )
        counts[key] += 1
        if row["decision"] == "confirm" and row["person_id"] is not None and origin and row["destination_unit_code"]:
            movements.append(
                Movement(
                    source="passage",
                    person_id=row["person_id"],
                    origin_unit_code=origin,
                    destination_unit_code=row["destination_unit_code"],
                    travel_date=a.travel_date or local.date(),
                    declaration_id=row["declaration_id"],
                    passage_id=row["id"],
                    checkpoint_id=row["checkpoint_id"],
                )
            )
    officers = sorted({row["officer_id"] for row, _, _ in created})
    checkpoints = sorted({row["checkpoint_id"] for row, _, _ in created})
    # One event per batch; its actor is the officer when the batch is one officer's (a device's queue).
    event = Event(
        created[0][2] if len(officers) == 1 else None,
        "passage:record",
        subject_type="checkpoint" if len(checkpoints) == 1 else None,
        subject_id=checkpoints[0] if len(checkpoints) == 1 else None,
        details={"passages": [row["id"] for row, _, _ in created], "officers": officers, "checkpoints": checkpoints},
    )
    return Effects(movements, counts, event)


async def _side_effects(session: AsyncSession, created: Sequence[Created]) -> None:
    """Notices, pre-aggregated counts and one audit event for the passages just inserted."""
    if not created:
        return
    effects = await effects_of(session, created)
    await notify_movements(session, effects.movements)
    await repo.add_counts(session, effects.counts)
    await record_events(session, [effects.event])
