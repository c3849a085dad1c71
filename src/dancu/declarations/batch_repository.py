"""A group-committed batch of declarations on PostgreSQL in two statements (writer.py).

Written statement by statement, a batch took seven round trips (BEGIN, the declarations, the notices, the
audit chain's lock, its head, the events, COMMIT), each ~0.1 ms of Python CPU: about a fifth of a
declaration's CPU at the batch sizes of a busy server (~8). Now, as for passages (checkpoints/
batch_repository.py), the writer takes the audit chain's lock and reserves the events' ids
(`audit.repository.pg_lock_and_reserve`), then `write` inserts the declarations, their notices and the audit
events, hashed in the statement (`audit.repository.pg_append_ctes`), in one statement. Rows travel as JSON
(json_populate_recordset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dancu.audit import repository as audit_repo
from dancu.audit.service import Appending
from dancu.core.db import json_rows
from dancu.declarations.models import Declaration
from dancu.notifications.repository import NOTICE_COLUMNS

_COLS = ", ".join(c.name for c in Declaration.__table__.columns)
_NOTICES = ", ".join(NOTICE_COLUMNS)

_WRITE = f"""WITH RECURSIVE declarations_insert AS (
  INSERT INTO declarations ({_COLS}) SELECT {_COLS} FROM json_populate_recordset(NULL::declarations, $1::json)
), notices_insert AS (
  INSERT INTO notices ({_NOTICES}) SELECT {_NOTICES} FROM json_populate_recordset(NULL::notices, $2::json)
  RETURNING id
), {audit_repo.pg_append_ctes('$3', '$4', '$5', 'true')}
SELECT array_agg(id ORDER BY id) FROM notices_insert"""
# (notice ids come from the table's sequence in row order, so ordering them by id gives the rows' order)


async def write(pg: Any, declarations: Sequence[Mapping[str, Any]], notices: Sequence[Mapping[str, Any]],
                audit: Appending) -> list[int]:
    """Insert the batch; the notices' ids in row order."""
    ids = await pg.fetchval(_WRITE, json_rows(declarations), json_rows(notices), json_rows(audit.rows),
                            audit.canonical, audit.chain)
    return list(ids or [])
