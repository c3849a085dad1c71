"""Green-lane pages for transport officials: vehicles, issuing a driver's pass, the printable QR."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dancu.accounts.deps import DbSession, require
from dancu.accounts.permissions import Actor, Permission
from dancu.checkpoints import green_lane
from dancu.checkpoints.schemas import GreenLaneIssue, VehicleCreate
from dancu.core.errors import DomainError
from dancu.core.ids import RowId
from dancu.core.web import LOCAL_TZ, gettext_for, render
from dancu.credentials.keys import get_keyring

router = APIRouter(include_in_schema=False)
VehicleManager = Annotated[Actor, Depends(require(Permission.VEHICLES_MANAGE))]


def _error(request: Request, exc: DomainError | ValidationError) -> str:
    if isinstance(exc, DomainError):
        return exc.localized(gettext_for(request))
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ()))
    return f"{field}: {err.get('msg')}" if field else str(err.get("msg"))


def _local_datetime(value: str) -> datetime | str:
    """A <input type="datetime-local"> value is local (Asia/Ho_Chi_Minh) time without a zone."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)


@router.get("/green-lane", response_class=HTMLResponse)
async def vehicles_page(
    request: Request,
    actor: VehicleManager,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    result = await green_lane.list_vehicles(session, actor, q=q, page=page, size=25)
    return render(
        request,
        "checkpoints/vehicles.html",
        {
            "result": result,
            "page": result,
            "q": q or "",
            "base_url": f"/green-lane?q={quote(q or '')}&",
            "error": None,
            "form": {"unit_code": actor.unit_code},
        },
    )


@router.post("/green-lane/vehicles", response_class=HTMLResponse)
async def register_submit(
    request: Request,
    actor: VehicleManager,
    session: DbSession,
    plate: Annotated[str, Form(max_length=20)] = "",
    vehicle_type: Annotated[str, Form(max_length=40)] = "",
    owner_company: Annotated[str, Form(max_length=200)] = "",
    unit_code: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    form = {
        "plate": plate,
        "vehicle_type": vehicle_type,
        "owner_company": owner_company,
        "unit_code": unit_code,
    }
    try:
        data = VehicleCreate.model_validate(form)
        vehicle = await green_lane.register_vehicle(session, actor, data)
    except (DomainError, ValidationError) as exc:
        result = await green_lane.list_vehicles(session, actor, page=1, size=25)
        return render(
            request,
            "checkpoints/vehicles.html",
            {
                "result": result,
                "page": result,
                "q": "",
                "base_url": "/green-lane?",
                "error": _error(request, exc),
                "form": form,
            },
            status_code=422,
        )
    return RedirectResponse(f"/green-lane/vehicles/{vehicle.id}", status_code=303)


async def _vehicle_page(
    request: Request,
    actor: Actor,
    session: DbSession,
    vehicle_id: RowId,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    vehicle, passes = await green_lane.vehicle_detail(session, actor, vehicle_id)
    return render(
        request,
        "checkpoints/vehicle.html",
        {
            "vehicle": vehicle,
            "passes": passes,
            "error": error,
            "form": form or {"test_kind": "pcr"},
        },
        status_code=status_code,
    )


@router.get("/green-lane/vehicles/{vehicle_id}", response_class=HTMLResponse)
async def vehicle_page(request: Request, vehicle_id: RowId, actor: VehicleManager, session: DbSession) -> Response:
    return await _vehicle_page(request, actor, session, vehicle_id)


@router.post("/green-lane/vehicles/{vehicle_id}/active")
async def vehicle_active(
    vehicle_id: RowId, actor: VehicleManager, session: DbSession, active: Annotated[bool, Form()] = False
) -> Response:
    await green_lane.set_vehicle_active(session, actor, vehicle_id, active)
    return RedirectResponse(f"/green-lane/vehicles/{vehicle_id}", status_code=303)


@router.post("/green-lane/vehicles/{vehicle_id}/passes", response_class=HTMLResponse)
async def issue_submit(
    request: Request,
    vehicle_id: RowId,
    actor: VehicleManager,
    session: DbSession,
    driver_national_id: Annotated[str, Form(max_length=20)] = "",
    origin_unit_code: Annotated[str, Form(max_length=10)] = "",
    destination_unit_code: Annotated[str, Form(max_length=10)] = "",
    test_kind: Annotated[str, Form(max_length=8)] = "",
    test_taken_at: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    form = {
        "driver_national_id": driver_national_id,
        "origin_unit_code": origin_unit_code,
        "destination_unit_code": destination_unit_code,
        "test_kind": test_kind,
        "test_taken_at": test_taken_at,
    }
    try:
        data = GreenLaneIssue.model_validate({**form, "test_taken_at": _local_datetime(test_taken_at)})
        issued = await green_lane.issue_pass(
            session, actor, vehicle_id, data, keyring=get_keyring(request.app.state.settings)
        )
    except (DomainError, ValidationError) as exc:
        if isinstance(exc, DomainError) and exc.status_code in (403, 404) and exc.field is None:
            raise
        return await _vehicle_page(
            request, actor, session, vehicle_id, error=_error(request, exc), form=form, status_code=422
        )
    return RedirectResponse(f"/green-lane/passes/{issued.id}", status_code=303)


@router.get("/green-lane/passes/{pass_row_id}", response_class=HTMLResponse)
async def pass_page(request: Request, pass_row_id: RowId, actor: VehicleManager, session: DbSession) -> Response:
    issued = await green_lane.get_pass(session, actor, pass_row_id)
    return render(request, "checkpoints/green_pass.html", {"p": issued})


@router.post("/green-lane/passes/{pass_row_id}/revoke")
async def revoke_submit(pass_row_id: RowId, actor: VehicleManager, session: DbSession) -> Response:
    await green_lane.revoke_pass(session, actor, pass_row_id)
    return RedirectResponse(f"/green-lane/passes/{pass_row_id}", status_code=303)
