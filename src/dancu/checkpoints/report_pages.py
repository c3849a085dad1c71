"""The checkpoint report page (charts from the pre-aggregated counts) and its XLSX download."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from dancu.accounts.deps import DbSession, require
from dancu.accounts.permissions import Actor, Permission
from dancu.checkpoints import reports
from dancu.checkpoints.schemas import ReportQuery
from dancu.core.errors import DomainError, ValidationFailed
from dancu.core.web import gettext_for, render

router = APIRouter(include_in_schema=False)
ReportReader = Annotated[Actor, Depends(require(Permission.REPORTS_READ))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _query(request: Request) -> ReportQuery:
    params = {k: v for k, v in request.query_params.items() if v and k in ("from", "to", "checkpoint_id")}
    try:
        return ReportQuery.model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or None
        raise ValidationFailed(f"{field}: {err.get('msg')}", field=field) from None


@router.get("/reports/checkpoints", response_class=HTMLResponse)
async def report_page(request: Request, actor: ReportReader, session: DbSession) -> Response:
    form = {k: v for k, v in request.query_params.items() if k in ("from", "to", "checkpoint_id")}
    try:
        report = await reports.checkpoint_report(session, actor, _query(request))
    except DomainError as exc:
        message = exc.localized(gettext_for(request))
        return render(
            request,
            "checkpoints/report.html",
            {"report": None, "error": message, "form": form},
            status_code=422,
        )
    chart = {
        "days": [r.label for r in report.by_day],
        "confirmed": [r.confirmed for r in report.by_day],
        "refused": [r.refused for r in report.by_day],
        "hours": [r.label for r in report.by_hour],
        "by_hour": [r.scanned for r in report.by_hour],
    }
    download = "/reports/checkpoints.xlsx?" + urlencode(
        {
            "from": report.date_from.isoformat(),
            "to": report.date_to.isoformat(),
            **({"checkpoint_id": report.checkpoint_id} if report.checkpoint_id else {}),
        }
    )
    return render(
        request,
        "checkpoints/report.html",
        {
            "report": report,
            "chart": chart,
            "error": None,
            "download": download,
            "form": {
                "from": report.date_from.isoformat(),
                "to": report.date_to.isoformat(),
                "checkpoint_id": form.get("checkpoint_id", ""),
            },
        },
    )


@router.get("/reports/checkpoints.xlsx")
async def report_download(request: Request, actor: ReportReader, session: DbSession) -> Response:
    report = await reports.checkpoint_report(session, actor, _query(request))
    name = f"checkpoints-{report.date_from.isoformat()}-{report.date_to.isoformat()}.xlsx"
    return Response(
        reports.report_xlsx(report),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
