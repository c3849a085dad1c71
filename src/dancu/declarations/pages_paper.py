"""Officers' pages for paper declarations: one form at a time, or a CSV/XLSX of forms with its result."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dancu.accounts.deps import DbSession, SettingsDep, require
from dancu.accounts.permissions import Actor, Permission
from dancu.core.errors import Conflict, DomainError
from dancu.core.web import gettext_for, render
from dancu.declarations import paper_import, service
from dancu.declarations.api import CSV, PassKeyring
from dancu.declarations.forms import form_errors, form_values, to_input
from dancu.declarations.models import EXPOSURES, SYMPTOMS, TRANSPORT_MODES
from dancu.declarations.schemas import MAX_DAYS_AHEAD

router = APIRouter(include_in_schema=False)
PaperClerk = Annotated[Actor, Depends(require(Permission.DECLARATIONS_PAPER))]


def _context(form: dict[str, object], error: str | None = None, errors: dict[str, str] | None = None,
             existing: int | None = None) -> dict[str, object]:
    today = service.local_today()
    return {"form": form, "error": error, "errors": errors or {}, "existing": existing,
            "transport_modes": TRANSPORT_MODES, "symptom_codes": SYMPTOMS, "exposure_codes": EXPOSURES,
            "min_date": today.isoformat(), "max_date": (today + timedelta(days=MAX_DAYS_AHEAD)).isoformat()}


@router.get("/declarations/paper", response_class=HTMLResponse)
async def paper_page(request: Request, actor: PaperClerk, session: DbSession) -> Response:
    form: dict[str, object] = {"travel_date": service.local_today().isoformat(), "transport": "motorbike",
                               "symptoms": [], "exposures": []}
    recent = await service.my_declarations(session, actor, 1, 10)
    return render(request, "declarations/paper.html", {**_context(form), "recent": recent})


@router.post("/declarations/paper", response_class=HTMLResponse)
async def paper_submit(request: Request, actor: PaperClerk, session: DbSession, keyring: PassKeyring
                       ) -> Response:
    values = form_values(await request.form())
    try:
        data = to_input(values)
        declaration = await service.create_paper_declaration(session, actor, data, keyring=keyring)
    except (DomainError, ValidationError) as exc:
        await session.rollback()  # nothing of a refused declaration is kept
        message, errors = form_errors(request, exc)
        existing = exc.details.get("declaration_id") if isinstance(exc, Conflict) and isinstance(
            exc.details, dict) else None
        recent = await service.my_declarations(session, actor, 1, 10)
        return render(request, "declarations/paper.html",
                      {**_context(values, message, errors, existing), "recent": recent},
                      status_code=exc.status_code if isinstance(exc, DomainError) else 422)
    return RedirectResponse(f"/declarations/{declaration.id}", status_code=303)


@router.get("/declarations/paper/import", response_class=HTMLResponse)
async def import_page(request: Request, actor: PaperClerk) -> Response:
    return render(request, "declarations/paper_import.html",
                  {"columns": paper_import.COLUMNS, "required": paper_import.REQUIRED, "error": None})


@router.post("/declarations/paper/import", response_class=HTMLResponse)
async def import_upload(request: Request, actor: PaperClerk, session: DbSession, settings: SettingsDep,
                        keyring: PassKeyring, file: UploadFile) -> Response:
    data = await file.read(paper_import.MAX_BYTES + 1)
    try:
        result = await paper_import.import_paper_forms(session, actor, settings, file.filename or "", data,
                                                       keyring=keyring, gettext=gettext_for(request))
    except DomainError as exc:
        await session.rollback()  # a file refused part-way (e.g. too many rows) imports nothing
        return render(request, "declarations/paper_import.html",
                      {"columns": paper_import.COLUMNS, "required": paper_import.REQUIRED,
                       "error": exc.localized(gettext_for(request))}, status_code=exc.status_code)
    return RedirectResponse(f"/declarations/paper/import/{result.token}", status_code=303)


@router.get("/declarations/paper/template.csv")
async def template(actor: PaperClerk) -> Response:
    return Response(paper_import.template_csv(service.local_today()), media_type=CSV,
                    headers={"Content-Disposition": 'attachment; filename="paper-declarations.csv"'})


@router.get("/declarations/paper/import/{token}", response_class=HTMLResponse)
async def import_result(request: Request, token: str, actor: PaperClerk, session: DbSession,
                        settings: SettingsDep) -> Response:
    result = paper_import.load_result(actor, settings, token)
    passes = await service.passes_to_print(session, actor, result.declaration_ids + result.duplicate_ids,
                                           action="declarations:read")
    imported = [p for p in passes if p.id in set(result.declaration_ids)]
    duplicates = [p for p in passes if p.id in set(result.duplicate_ids)]
    return render(request, "declarations/paper_result.html", {"result": result, "imported": imported,
                                                               "duplicates": duplicates})


@router.get("/declarations/paper/import/{token}/errors.csv")
async def import_errors(token: str, actor: PaperClerk, settings: SettingsDep) -> FileResponse:
    path = paper_import.error_file(actor, settings, token)
    return FileResponse(path, media_type=CSV, filename=f"paper-forms-{token}.errors.csv")


@router.get("/declarations/paper/import/{token}/print", response_class=HTMLResponse)
async def import_print(request: Request, token: str, actor: PaperClerk, session: DbSession,
                       settings: SettingsDep) -> Response:
    result = paper_import.load_result(actor, settings, token)
    passes = await service.passes_to_print(session, actor, result.declaration_ids + result.duplicate_ids)
    return render(request, "declarations/print.html", {"passes": [p for p in passes if p.status == "valid"]})
