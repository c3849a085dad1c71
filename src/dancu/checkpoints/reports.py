"""Checkpoint reports for steering committees: per day, hour, checkpoint and province of origin.

They read only `passage_counts` (kept up to date in each passage's transaction), so a report over millions
of passages sums a few thousand rows. Downloadable as XLSX.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from openpyxl import Workbook
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Permission
from dancu.checkpoints import labels
from dancu.checkpoints import report_repository as repo
from dancu.checkpoints import repository as checkpoint_repo
from dancu.checkpoints.schemas import ReportOut, ReportQuery, ReportRow
from dancu.core.db import utcnow
from dancu.core.errors import Forbidden, NotFound, ValidationFailed
from dancu.core.web import LOCAL_TZ

MAX_DAYS = 366
DEFAULT_DAYS = 7


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(LOCAL_TZ).date()


def date_range(query: ReportQuery, today: date) -> tuple[date, date]:
    date_to = query.date_to or today
    date_from = query.date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise ValidationFailed("The start date is after the end date.", field="from")
    if (date_to - date_from).days >= MAX_DAYS:
        raise ValidationFailed("A report covers at most 366 days.", field="from")
    return date_from, date_to


def _rows(data: Iterable[tuple[Any, str, bool, int]], label: Callable[[Any], str]) -> dict[str, ReportRow]:
    out: dict[str, ReportRow] = {}
    for value, decision, green, n in data:
        key = str(value)
        row = out.get(key) or ReportRow(key=key, label=label(value))
        out[key] = row
        row.scanned += n
        if decision == "confirm":
            row.confirmed += n
        else:
            row.refused += n
        if green:
            row.green_lane += n
    return out


async def checkpoint_report(
    session: AsyncSession, actor: Actor, query: ReportQuery, *, today: date | None = None
) -> ReportOut:
    """Counts over the actor's subtree (or one of its checkpoints) between two local dates, inclusive."""
    if not actor.can(Permission.REPORTS_READ):
        raise Forbidden("Your role does not allow reading reports.")
    date_from, date_to = date_range(query, today or local_today())
    if query.checkpoint_id is not None:
        found = await checkpoint_repo.get(session, query.checkpoint_id)
        if found is None:
            raise NotFound("No such checkpoint.", field="checkpoint_id")
        if not found[1].path.startswith(actor.unit_path):
            raise Forbidden("This checkpoint is outside your jurisdiction.", field="checkpoint_id")
    scope: dict[str, Any] = {
        "unit_path": actor.unit_path,
        "date_from": date_from,
        "date_to": date_to,
        "checkpoint_id": query.checkpoint_id,
    }
    by_day = _rows(await repo.grouped(session, "day", **scope), lambda d: d.isoformat())
    by_hour = _rows(await repo.grouped(session, "hour", **scope), lambda h: f"{int(h):02d}:00")
    by_cp_raw = await repo.grouped(session, "checkpoint", **scope)
    names = await repo.checkpoint_names(session, {int(r[0]) for r in by_cp_raw})
    by_checkpoint = _rows(by_cp_raw, lambda i: names.get(int(i), f"#{i}"))
    by_origin_raw = await repo.grouped(session, "origin_province", **scope)
    provinces = await labels.unit_info(session, {str(r[0]) for r in by_origin_raw})
    by_origin = _rows(by_origin_raw, lambda code: labels.name_of(provinces, code) or str(code) or "?")
    reasons = await repo.refusals_by_reason(session, **scope)

    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    totals = ReportRow(key="total", label="Total")
    for row in by_day.values():
        totals.scanned += row.scanned
        totals.confirmed += row.confirmed
        totals.refused += row.refused
        totals.green_lane += row.green_lane
    return ReportOut(
        date_from=date_from,
        date_to=date_to,
        checkpoint_id=query.checkpoint_id,
        totals=totals,
        refused_by_reason=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        by_day=[by_day.get(d.isoformat()) or ReportRow(key=d.isoformat(), label=d.isoformat()) for d in days],
        by_hour=[by_hour.get(str(h)) or ReportRow(key=str(h), label=f"{h:02d}:00") for h in range(24)],
        by_checkpoint=sorted(by_checkpoint.values(), key=lambda r: (-r.scanned, r.label)),
        by_origin_province=sorted(by_origin.values(), key=lambda r: (-r.scanned, r.label)),
    )


def report_xlsx(report: ReportOut) -> bytes:
    """The report as an XLSX workbook (streamed rows, write-only mode)."""
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("Summary")
    summary.append(["From", report.date_from.isoformat(), "To", report.date_to.isoformat()])
    summary.append(["Scanned", "Confirmed", "Refused", "Green lane"])
    t = report.totals
    summary.append([t.scanned, t.confirmed, t.refused, t.green_lane])
    summary.append([])
    summary.append(["Refusal reason", "Count"])
    for reason, n in report.refused_by_reason.items():
        summary.append([reason, n])
    for title, rows in (
        ("By day", report.by_day),
        ("By hour", report.by_hour),
        ("By checkpoint", report.by_checkpoint),
        ("By origin province", report.by_origin_province),
    ):
        sheet = wb.create_sheet(title)
        sheet.append([title.removeprefix("By ").capitalize(), "Scanned", "Confirmed", "Refused", "Green lane"])
        for row in rows:
            sheet.append([row.label, row.scanned, row.confirmed, row.refused, row.green_lane])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
