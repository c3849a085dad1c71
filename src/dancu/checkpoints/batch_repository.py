"""The two statements of a group-committed batch of passages on PostgreSQL (passage_batch.py).

A batch used to cost a dozen round trips (pass lookups, already-scanned check, insert, notices, counts, the
audit chain's lock, head and insert, begin and commit), each ~0.1 ms of Python CPU: at the batch sizes 32
concurrent devices make (5-10 passages), that fixed cost was most of the scan API's CPU. Now:

1. `context`: takes the audit chain's lock, reserves the passage and audit ids, and looks up the batch's
   travel passes, the passes confirmed at these checkpoints in the window and the idempotency keys already
   recorded — one statement, one JSON answer;
2. `write`: inserts the passages, and only if every one of them was inserted (no key raced in from another
   process meanwhile), their notices, the count increments and the audit event, hashed in the statement
   (`audit.repository.pg_append_ctes`) — one statement.

Rows travel as JSON (json_populate_recordset): one parameter per table, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
from pydantic_core import from_json

from dancu.audit import repository as audit_repo
from dancu.audit.service import Appending
from dancu.checkpoints.models import Passage
from dancu.checkpoints.passage_repository import COUNT_KEY
from dancu.checkpoints.scanning import PassRecord
from dancu.core.db import json_rows
from dancu.declarations.repository import derived_status
from dancu.notifications.repository import NOTICE_COLUMNS

PASSAGE_COLUMNS = tuple(c.name for c in Passage.__table__.columns)
_COLS = ", ".join(PASSAGE_COLUMNS)
_DATETIMES = ("scanned_at", "recorded_at")

_CONTEXT_SELECT = f"""SELECT
  (SELECT array_agg(nextval(pg_get_serial_sequence('passages', 'id'))) FROM generate_series(1, $2::int)),
  {audit_repo.pg_reserve_ids('1')},
  (SELECT json_agg(json_build_array(d.id, d.person_id, d.pass_id, d.status, d.expires_at, d.origin_unit_code,
                                    d.destination_unit_code, d.travel_date, p.full_name, p.dob, p.national_id,
                                    d.vehicle_plate))::text
     FROM declarations d JOIN persons p ON p.id = d.person_id WHERE d.pass_id = ANY($3::varchar[])),
  (SELECT json_agg(r)::text FROM (
     SELECT {_COLS} FROM passages WHERE pass_id = ANY($3::varchar[]) AND checkpoint_id + 0 = ANY($4::int[])
       AND decision = 'confirm' AND scanned_at >= $5 AND scanned_at <= $6) r),
  (SELECT json_agg(r)::text FROM (SELECT {_COLS} FROM passages WHERE idempotency_key = ANY($7::varchar[])) r)
FROM """
_CONTEXT = _CONTEXT_SELECT + audit_repo.pg_lock_from("$1")
_CONTEXT_OWNED = _CONTEXT_SELECT + audit_repo.pg_lock_from("$1", lock=False)  # the writer's own chain: no lock
# (The already-scanned lookup leaves the planner only the (pass_id, scanned_at) index: see passage_repository.)


@dataclass(frozen=True, slots=True)
class Context:
    passage_ids: list[int]
    audit_id: int
    passes: dict[str, PassRecord]
    recent: list[dict[str, Any]]  # passages (column dicts) confirmed at these checkpoints in the window
    existing: dict[str, dict[str, Any]]  # idempotency key -> the passage already recorded with it


def _passage(row: dict[str, Any]) -> dict[str, Any]:
    for name in _DATETIMES:
        row[name] = datetime.fromisoformat(row[name])
    return row


def _pass_record(r: list[Any], now: datetime) -> PassRecord:
    expires_at = datetime.fromisoformat(r[4])
    return PassRecord(declaration_id=r[0], person_id=r[1], pass_id=r[2], status=derived_status(r[3], expires_at, now),
                      expires_at=expires_at, origin_unit_code=r[5], destination_unit_code=r[6],
                      travel_date=date.fromisoformat(r[7]), full_name=r[8], dob=date.fromisoformat(r[9]),
                      id_last4=r[10][-4:], vehicle_plate=r[11])


async def context(pg: Any, chain: int, n: int, pass_ids: Collection[str], checkpoint_ids: Collection[int],
                  since: datetime, until: datetime, keys: Collection[str], now: datetime, *,
                  owned: bool = False) -> Context:
    """`owned`: the connection owns `chain` (`audit.repository.pg_claim_chain`), so no lock is taken."""
    row = await pg.fetchrow(_CONTEXT_OWNED if owned else _CONTEXT, audit_repo.pg_lock_key(chain), n,
                            list(pass_ids), list(checkpoint_ids), since, until, list(keys))
    ids, audit_ids, passes, recent, existing = row
    return Context(
        passage_ids=list(ids),
        audit_id=int(audit_ids[0]),
        passes={r[2]: _pass_record(r, now) for r in from_json(passes)} if passes else {},
        recent=[_passage(r) for r in from_json(recent)] if recent else [],
        existing={r["idempotency_key"]: _passage(r) for r in from_json(existing)} if existing else {},
    )


_NOTICES = ", ".join(NOTICE_COLUMNS)
_COUNTS = ", ".join((*COUNT_KEY, "count"))
_WRITE_HEAD = f"""WITH RECURSIVE inserted AS (
  INSERT INTO passages ({_COLS}) SELECT {_COLS} FROM json_populate_recordset(NULL::passages, $1::json)"""
_WRITE_TAIL = f"""
), complete AS (SELECT count(*) = $2::int AS ok FROM inserted
), notices_insert AS (
  INSERT INTO notices ({_NOTICES}) SELECT {_NOTICES} FROM json_populate_recordset(NULL::notices, $3::json)
  WHERE (SELECT ok FROM complete) RETURNING id
), counts_insert AS (
  INSERT INTO passage_counts ({_COUNTS}) SELECT {_COUNTS} FROM json_populate_recordset(NULL::passage_counts, $4::json)
  WHERE (SELECT ok FROM complete)
  ON CONFLICT ({', '.join(COUNT_KEY)}) DO UPDATE SET count = passage_counts.count + excluded.count
), {audit_repo.pg_append_ctes('$5', '$6', '$7', '(SELECT ok FROM complete)')}
SELECT (SELECT ok FROM complete), (SELECT array_agg(id ORDER BY id) FROM notices_insert)"""
# In a transaction a taken key is skipped, the rest is not written and the caller rolls back. A statement that
# commits on its own (an owned chain) must fail instead: a unique violation undoes all of it.
_WRITE = _WRITE_HEAD + "\n  ON CONFLICT (idempotency_key) DO NOTHING RETURNING id" + _WRITE_TAIL
_WRITE_OWNED = _WRITE_HEAD + "\n  RETURNING id" + _WRITE_TAIL
_KEY_CONSTRAINT = "uq_passages_idempotency_key"


async def write(pg: Any, passages: Sequence[Mapping[str, Any]], notices: Sequence[Mapping[str, Any]],
                counts: Sequence[Mapping[str, Any]], audit: Appending, *,
                owned: bool = False) -> tuple[bool, list[int]]:
    """(True, the notices' ids in row order) when every passage was inserted; (False, []) when a key was
    already taken, and then nothing else was written: the caller rolls the transaction back (in a statement
    of its own, `owned`, the statement itself is undone)."""
    args = (json_rows(passages), len(passages), json_rows(notices), json_rows(counts), json_rows(audit.rows),
            audit.canonical, audit.chain)
    try:
        ok, notice_ids = await pg.fetchrow(_WRITE_OWNED if owned else _WRITE, *args)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != _KEY_CONSTRAINT:
            raise
        return False, []
    return bool(ok), list(notice_ids or [])
