"""Pages for officials: checkpoints and their officers. The scan, green-lane and report pages are included."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dancu.accounts.deps import DbSession, require
from dancu.accounts.permissions import Actor, Permission
from dancu.checkpoints import green_lane_pages, report_pages, scan_pages, service
from dancu.checkpoints.access import access_cache
from dancu.checkpoints.schemas import CheckpointCreate, CheckpointUpdate
from dancu.core.errors import DomainError
from dancu.core.ids import RowId
from dancu.core.web import gettext_for, render

router = APIRouter(include_in_schema=False)
Manager = Annotated[Actor, Depends(require(Permission.CHECKPOINTS_MANAGE))]
KINDS = ("provincial_border", "city_gateway", "internal")


def form_error(request: Request, exc: DomainError | ValidationError) -> tuple[str, str | None]:
    if isinstance(exc, DomainError):
        return exc.localized(gettext_for(request)), exc.field
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or None
    return (f"{field}: {err.get('msg')}" if field else str(err.get("msg"))), field


def _float(value: str) -> float | None:
    value = value.strip().replace(",", ".")
    return float(value) if value else None


@router.get("/checkpoints", response_class=HTMLResponse)
async def list_page(
    request: Request,
    actor: Manager,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=120)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    result = await service.list_checkpoints(session, actor, q=q, page=page, size=25)
    return render(
        request,
        "checkpoints/list.html",
        {
            "result": result,
            "page": result,
            "q": q or "",
            "base_url": f"/checkpoints?q={quote(q or '')}&",
        },
    )


@router.get("/checkpoints/new", response_class=HTMLResponse)
async def new_page(request: Request, actor: Manager) -> Response:
    return render(
        request,
        "checkpoints/form.html",
        {
            "checkpoint": None,
            "kinds": KINDS,
            "error": None,
            "form": {"unit_code": actor.unit_code, "active": True},
        },
    )


@router.post("/checkpoints/new", response_class=HTMLResponse)
async def new_submit(
    request: Request,
    actor: Manager,
    session: DbSession,
    name: Annotated[str, Form(max_length=120)] = "",
    unit_code: Annotated[str, Form(max_length=10)] = "",
    kind: Annotated[str, Form(max_length=24)] = "",
    lat: Annotated[str, Form(max_length=20)] = "",
    lon: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    form = {"name": name, "unit_code": unit_code, "kind": kind, "lat": lat, "lon": lon, "active": True}
    try:
        data = CheckpointCreate.model_validate(
            {"name": name, "unit_code": unit_code, "kind": kind, "lat": _float(lat), "lon": _float(lon)}
        )
        created = await service.create_checkpoint(session, actor, data)
    except (DomainError, ValidationError, ValueError) as exc:
        if isinstance(exc, DomainError | ValidationError):
            message, field = form_error(request, exc)
        else:
            message, field = gettext_for(request)("Latitude and longitude must be numbers."), "lat"
        return render(
            request,
            "checkpoints/form.html",
            {"checkpoint": None, "kinds": KINDS, "error": message, "error_field": field, "form": form},
            status_code=422,
        )
    return RedirectResponse(f"/checkpoints/{created.id}", status_code=303)


@router.get("/checkpoints/officer-options", response_class=HTMLResponse)
async def officer_options(request: Request, actor: Manager, session: DbSession) -> Response:
    text = next(iter(request.query_params.values()), "")[:64]
    accounts = await service.officer_options(session, actor, text)
    return render(request, "checkpoints/_officer_options.html", {"accounts": accounts})


async def _detail(
    request: Request,
    actor: Actor,
    session: DbSession,
    checkpoint_id: RowId,
    *,
    error: str | None = None,
    status_code: int = 200,
    form: dict[str, object] | None = None,
) -> Response:
    checkpoint = await service.get_checkpoint(session, actor, checkpoint_id)
    officers = await service.officers(session, actor, checkpoint_id)
    return render(
        request,
        "checkpoints/detail.html",
        {
            "checkpoint": checkpoint,
            "officers": officers,
            "kinds": KINDS,
            "error": error,
            "form": form or checkpoint.model_dump(),
        },
        status_code=status_code,
    )


@router.get("/checkpoints/{checkpoint_id}", response_class=HTMLResponse)
async def detail_page(request: Request, checkpoint_id: RowId, actor: Manager, session: DbSession) -> Response:
    return await _detail(request, actor, session, checkpoint_id)


@router.post("/checkpoints/{checkpoint_id}", response_class=HTMLResponse)
async def edit_submit(
    request: Request,
    checkpoint_id: RowId,
    actor: Manager,
    session: DbSession,
    name: Annotated[str, Form(max_length=120)] = "",
    kind: Annotated[str, Form(max_length=24)] = "",
    lat: Annotated[str, Form(max_length=20)] = "",
    lon: Annotated[str, Form(max_length=20)] = "",
    active: Annotated[bool, Form()] = False,
) -> Response:
    form = {"name": name, "kind": kind, "lat": lat, "lon": lon, "active": active}
    try:
        data = CheckpointUpdate.model_validate(
            {"name": name, "kind": kind, "lat": _float(lat), "lon": _float(lon), "active": active}
        )
        await service.update_checkpoint(session, actor, checkpoint_id, data)
    except (DomainError, ValidationError) as exc:
        message, _field = form_error(request, exc)
        return await _detail(request, actor, session, checkpoint_id, error=message, status_code=422, form=form)
    except ValueError:
        message = gettext_for(request)("Latitude and longitude must be numbers.")
        return await _detail(request, actor, session, checkpoint_id, error=message, status_code=422, form=form)
    access_cache(request.app).forget()
    return RedirectResponse(f"/checkpoints/{checkpoint_id}?saved=1", status_code=303)


@router.post("/checkpoints/{checkpoint_id}/officers", response_class=HTMLResponse)
async def assign_submit(
    request: Request,
    checkpoint_id: RowId,
    actor: Manager,
    session: DbSession,
    username: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        await service.assign(session, actor, checkpoint_id, username=username or None)
    except DomainError as exc:
        if exc.status_code == 404 and exc.field is None:
            raise
        message, _field = form_error(request, exc)
        return await _detail(request, actor, session, checkpoint_id, error=message, status_code=exc.status_code)
    return RedirectResponse(f"/checkpoints/{checkpoint_id}", status_code=303)


@router.post("/checkpoints/{checkpoint_id}/officers/{account_id}/remove")
async def unassign_submit(
    request: Request, checkpoint_id: RowId, account_id: RowId, actor: Manager, session: DbSession
) -> Response:
    await service.unassign(session, actor, checkpoint_id, account_id)
    access_cache(request.app).forget()
    return RedirectResponse(f"/checkpoints/{checkpoint_id}", status_code=303)


router.include_router(scan_pages.router)
router.include_router(green_lane_pages.router)
router.include_router(report_pages.router)
