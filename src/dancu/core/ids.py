"""Row identifiers from outside (paths, query strings, forms, bodies): whole numbers their column can hold.

The tables' ids are INTEGER (PostgreSQL int4), but the hot append tables' (passages, notices, audit events):
BIGINT. An id past its column's range can name no row, and the database drivers refuse to bind it (SQLite
past 2**63 - 1: OverflowError; asyncpg past 2**31 - 1 for an INTEGER: DataError), a failed statement, so
it is refused where it comes in, as any other invalid input (422)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_ID = 2**31 - 1  # INTEGER
MAX_BIG_ID = 2**63 - 1  # BIGINT

RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
BigRowId = Annotated[int, Field(ge=1, le=MAX_BIG_ID)]
