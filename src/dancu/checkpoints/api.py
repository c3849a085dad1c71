"""Checkpoint API: management, the scanning-device contract (scan, passages, batches), green lane, reports.

The device contract is stable (other clients and load tests depend on it):

    POST /api/v1/checkpoints/{id}/scan            {"code"}                    -> verdict, records nothing
    POST /api/v1/checkpoints/{id}/passages        one passage                 -> 201 new, 200 replay
    POST /api/v1/checkpoints/{id}/passages:batch  {"items": [≤1000 passages]} -> status per item
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dancu.accounts.deps import DbSession, require
from dancu.accounts.permissions import Actor, Permission
from dancu.checkpoints import device, green_lane, reports, service
from dancu.checkpoints.access import ScannerActor, access_cache
from dancu.checkpoints.schemas import (
    BatchIn,
    BatchOut,
    CheckpointCreate,
    CheckpointOut,
    CheckpointUpdate,
    GreenLaneIssue,
    GreenLanePassOut,
    OfficerOut,
    PassageIn,
    PassageResult,
    ReportOut,
    ReportQuery,
    ScanIn,
    ScanOut,
    VehicleCreate,
    VehicleOut,
)
from dancu.core.ids import RowId
from dancu.core.pagination import Page
from dancu.credentials.keys import Keyring

router = APIRouter(prefix="/api/v1", tags=["checkpoints"])
Manager = Annotated[Actor, Depends(require(Permission.CHECKPOINTS_MANAGE))]
VehicleManager = Annotated[Actor, Depends(require(Permission.VEHICLES_MANAGE))]
ReportReader = Annotated[Actor, Depends(require(Permission.REPORTS_READ))]
Officer = Annotated[Actor, Depends(require(Permission.PASSAGES_RECORD))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def keyring_of(request: Request) -> Keyring:
    return device.keyring_of(request.app)


class AssignIn(BaseModel):
    username: str | None = Field(default=None, max_length=64)
    account_id: RowId | None = None


class ActiveIn(BaseModel):
    active: bool


# --- scanning devices (first, so the hot path is matched early) -----------------------------------------


@router.post("/checkpoints/{checkpoint_id}/scan")
async def scan(checkpoint_id: RowId, body: ScanIn, request: Request, actor: ScannerActor) -> ScanOut:
    """Verify a code: verdict, reason and the fields to compare with the ID card. Records no passage."""
    return await device.scan_code(request.app, actor, checkpoint_id, body.code)


@router.post(
    "/checkpoints/{checkpoint_id}/passages",
    status_code=201,
    response_model=PassageResult,
    responses={200: {"model": PassageResult, "description": "Replay: this passage was already recorded"}},
)
async def record_passage(checkpoint_id: RowId, item: PassageIn, request: Request, actor: ScannerActor) -> Response:
    """Verify again and record one decision. 201 once; 200 with the same passage for a replayed key, or
    for a pass already confirmed here within the last minute."""
    status, body = await device.record_one(request.app, actor, checkpoint_id, item)
    return JSONResponse(body, status_code=status)


@router.post("/checkpoints/{checkpoint_id}/passages:batch")
async def record_batch(checkpoint_id: RowId, body: BatchIn, request: Request, actor: ScannerActor) -> BatchOut:
    """An offline device's queue: up to 1,000 passages, each answered on its own.

    One bad item never fails the others: it gets status "error" with a message."""
    return await device.record_many(request.app, actor, checkpoint_id, body.items)


# --- management -----------------------------------------------------------------------------------------


@router.get("/checkpoints")
async def list_checkpoints(
    actor: Manager,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=120)] = None,
    active: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Page[CheckpointOut]:
    return await service.list_checkpoints(session, actor, q=q, active=active, page=page, size=size)


@router.post("/checkpoints", status_code=201)
async def create_checkpoint(data: CheckpointCreate, actor: Manager, session: DbSession) -> CheckpointOut:
    return await service.create_checkpoint(session, actor, data)


@router.get("/checkpoints/{checkpoint_id}")
async def get_checkpoint(checkpoint_id: RowId, actor: Manager, session: DbSession) -> CheckpointOut:
    return await service.get_checkpoint(session, actor, checkpoint_id)


@router.patch("/checkpoints/{checkpoint_id}")
async def update_checkpoint(
    checkpoint_id: RowId, data: CheckpointUpdate, request: Request, actor: Manager, session: DbSession
) -> CheckpointOut:
    out = await service.update_checkpoint(session, actor, checkpoint_id, data)
    access_cache(request.app).forget()
    return out


@router.get("/checkpoints/{checkpoint_id}/officers")
async def checkpoint_officers(checkpoint_id: RowId, actor: Manager, session: DbSession) -> list[OfficerOut]:
    return await service.officers(session, actor, checkpoint_id)


@router.post("/checkpoints/{checkpoint_id}/officers", status_code=201)
async def assign_officer(checkpoint_id: RowId, data: AssignIn, actor: Manager, session: DbSession) -> OfficerOut:
    return await service.assign(session, actor, checkpoint_id, username=data.username, account_id=data.account_id)


@router.delete("/checkpoints/{checkpoint_id}/officers/{account_id}", status_code=204)
async def unassign_officer(
    checkpoint_id: RowId, account_id: RowId, request: Request, actor: Manager, session: DbSession
) -> Response:
    await service.unassign(session, actor, checkpoint_id, account_id)
    access_cache(request.app).forget()
    return Response(status_code=204)


@router.get("/me/checkpoints")
async def my_checkpoints(actor: Officer, session: DbSession) -> list[CheckpointOut]:
    return await service.my_checkpoints(session, actor)


# --- green lane -----------------------------------------------------------------------------------------


@router.get("/vehicles")
async def list_vehicles(
    actor: VehicleManager,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Page[VehicleOut]:
    return await green_lane.list_vehicles(session, actor, q=q, page=page, size=size)


@router.post("/vehicles", status_code=201)
async def register_vehicle(data: VehicleCreate, actor: VehicleManager, session: DbSession) -> VehicleOut:
    return await green_lane.register_vehicle(session, actor, data)


@router.patch("/vehicles/{vehicle_id}")
async def set_vehicle_active(
    vehicle_id: RowId, data: ActiveIn, actor: VehicleManager, session: DbSession
) -> VehicleOut:
    return await green_lane.set_vehicle_active(session, actor, vehicle_id, data.active)


@router.post("/vehicles/{vehicle_id}/green-lane-passes", status_code=201)
async def issue_green_lane_pass(
    vehicle_id: RowId, data: GreenLaneIssue, request: Request, actor: VehicleManager, session: DbSession
) -> GreenLanePassOut:
    return await green_lane.issue_pass(session, actor, vehicle_id, data, keyring=keyring_of(request))


@router.get("/green-lane-passes/{pass_row_id}")
async def get_green_lane_pass(pass_row_id: RowId, actor: VehicleManager, session: DbSession) -> GreenLanePassOut:
    return await green_lane.get_pass(session, actor, pass_row_id)


@router.post("/green-lane-passes/{pass_row_id}/revoke")
async def revoke_green_lane_pass(pass_row_id: RowId, actor: VehicleManager, session: DbSession) -> GreenLanePassOut:
    return await green_lane.revoke_pass(session, actor, pass_row_id)


# --- reports --------------------------------------------------------------------------------------------


@router.get(
    "/reports/checkpoints",
    response_model=ReportOut,
    responses={200: {"content": {XLSX: {}}, "description": "JSON, or XLSX with format=xlsx"}},
)
async def checkpoint_report(
    actor: ReportReader,
    session: DbSession,
    query: Annotated[ReportQuery, Query()],
    format: Annotated[str, Query(pattern="^(json|xlsx)$")] = "json",
) -> Any:
    report = await reports.checkpoint_report(session, actor, query)
    if format == "xlsx":
        name = f"checkpoints-{report.date_from.isoformat()}-{report.date_to.isoformat()}.xlsx"
        return Response(
            reports.report_xlsx(report),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report
