"""XLSX export of the inbox's current filter: rows streamed from the database into an openpyxl write-only
workbook (constant memory), saved to an anonymous temporary file that the response then streams.

openpyxl costs ~7 µs per cell here (≈9 s for 100,000 rows × 13 columns on a 2-core test machine), so
rows are appended in chunks in a worker thread to keep the event loop responsive; the export is capped.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator, Sequence
from typing import IO, Any, ClassVar

from fastapi.responses import Response, StreamingResponse
from openpyxl import Workbook
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor
from dancu.audit.service import record_event
from dancu.core.db import utcnow
from dancu.core.errors import DomainError
from dancu.core.web import LOCAL_TZ
from dancu.notifications import repository as repo
from dancu.notifications.schemas import NoticeFilter
from dancu.notifications.service import require_reader

MAX_EXPORT_ROWS = 100_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 1000
COLUMNS = ("Notice", "Kind", "Travel date", "Full name", "ID number", "Origin code", "Origin",
           "Destination code", "Destination", "Source", "Checkpoint", "Created at", "Handled at")


class ExportTooLarge(DomainError):
    status_code: ClassVar[int] = 422
    code: ClassVar[str] = "export_too_large"


def _local(value: Any) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def _cells(row: repo.NoticeRow) -> list[Any]:
    n, person_name, national_id, origin_name, destination_name, checkpoint_name = row
    return [n.id, n.kind, n.travel_date, person_name, national_id, n.origin_unit_code, origin_name or "",
            n.destination_unit_code, destination_name or "", n.source, checkpoint_name or "",
            _local(n.created_at), _local(n.handled_at)]


def _append(ws: Any, rows: Sequence[list[Any]]) -> None:
    for cells in rows:
        ws.append(cells)


async def export_xlsx(session: AsyncSession, actor: Actor, f: NoticeFilter, *,
                      max_rows: int = MAX_EXPORT_ROWS) -> tuple[IO[bytes], int]:
    """Write the filtered notices (newest first) to a temporary XLSX file; returns it rewound, and the count.

    Refuses (ExportTooLarge) when more than `max_rows` notices match. Audited as one read."""
    require_reader(actor)
    total = await repo.count_notices(session, actor, f)
    if total > max_rows:
        raise ExportTooLarge(
            "Too many notices to export ({total}); the limit is {limit}. Narrow the filters.",
            field="date_from", params={"total": total, "limit": max_rows},
        )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("notices")
    ws.append(list(COLUMNS))
    written = 0
    async for part in repo.stream_notices(session, actor, f, limit=max_rows, chunk=CHUNK):
        rows = [_cells(r) for r in part]
        await asyncio.to_thread(_append, ws, rows)
        written += len(rows)
    out = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (closed by the response's iterator)
    try:
        await asyncio.to_thread(wb.save, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    await record_event(session, actor, "notices:export", details={"filters": f.as_query(), "rows": written})
    return out, written


def iter_file(f: IO[bytes], chunk: int = 64 * 1024) -> Iterator[bytes]:
    """Stream a file and close it at the end (or when the client goes away)."""
    try:
        while data := f.read(chunk):
            yield data
    finally:
        f.close()


async def xlsx_response(session: AsyncSession, actor: Actor, f: NoticeFilter) -> Response:
    out, _count = await export_xlsx(session, actor, f)
    name = f"notices-{utcnow():%Y%m%d-%H%M}.xlsx"
    return StreamingResponse(iter_file(out), media_type=XLSX_TYPE,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
