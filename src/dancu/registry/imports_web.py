"""Routes for register imports (pages and API); thin wrappers over registry.imports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from dancu.accounts.deps import DbSession, SettingsDep, require
from dancu.accounts.permissions import Actor, Permission
from dancu.core.ids import RowId
from dancu.core.web import is_htmx, render
from dancu.registry import imports
from dancu.registry.schemas import ImportJobOut

router = APIRouter()
Importer = Annotated[Actor, Depends(require(Permission.REGISTRY_IMPORT))]


def _out(job: object) -> ImportJobOut:
    out = ImportJobOut.model_validate(job)
    out.has_error_file = bool(getattr(job, "error_file", None))
    return out


async def _start(
    request: Request, actor: Actor, session: DbSession, settings: SettingsDep, file: UploadFile
) -> ImportJobOut:
    job = await imports.store_upload(session, actor, settings, file.filename or "", file.file)
    allowed = await imports.allowed_units_for(session, actor)
    await session.commit()  # the job row must exist before the background job looks for it
    imports.start_job(request.app.state.db, settings, job.id, allowed)
    return _out(job)


@router.post("/api/v1/registry/imports", status_code=202, tags=["registry"])
async def api_start_import(
    request: Request, actor: Importer, session: DbSession, settings: SettingsDep, file: UploadFile
) -> ImportJobOut:
    """Upload a CSV/XLSX register file; the import runs in the background (poll the job)."""
    return await _start(request, actor, session, settings, file)


@router.get("/api/v1/registry/imports/{job_id}", tags=["registry"])
async def api_job(job_id: RowId, actor: Importer, session: DbSession) -> ImportJobOut:
    return _out(await imports.get_job(session, actor, job_id))


@router.get("/api/v1/registry/imports/{job_id}/errors.csv", tags=["registry"])
async def api_errors(job_id: RowId, actor: Importer, session: DbSession, settings: SettingsDep) -> FileResponse:
    path = await imports.error_file_path(session, actor, settings, job_id)
    return FileResponse(path, media_type="text/csv", filename=path.name)


@router.get("/registry/imports", response_class=HTMLResponse, include_in_schema=False)
async def imports_page(request: Request, actor: Importer, session: DbSession) -> Response:
    jobs = [_out(j) for j in await imports.recent_jobs(session, actor)]
    return render(request, "registry/imports.html", {"jobs": jobs})


@router.post("/registry/imports", include_in_schema=False)
async def imports_upload(
    request: Request, actor: Importer, session: DbSession, settings: SettingsDep, file: UploadFile
) -> Response:
    job = await _start(request, actor, session, settings, file)
    return RedirectResponse(f"/registry/imports/{job.id}", status_code=303)


@router.get("/registry/imports/{job_id}", response_class=HTMLResponse, include_in_schema=False)
async def import_page(request: Request, job_id: RowId, actor: Importer, session: DbSession) -> Response:
    job = _out(await imports.get_job(session, actor, job_id))
    template = "registry/_import_status.html" if is_htmx(request) else "registry/import.html"
    return render(request, template, {"job": job})


@router.get("/registry/imports/{job_id}/errors.csv", include_in_schema=False)
async def import_errors(job_id: RowId, actor: Importer, session: DbSession, settings: SettingsDep) -> FileResponse:
    path = await imports.error_file_path(session, actor, settings, job_id)
    return FileResponse(path, media_type="text/csv", filename=path.name)
