"""Declarations API: thin routes over the same service functions as the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response

from dancu.accounts.deps import CurrentActor, DbSession, SettingsDep, require
from dancu.accounts.permissions import Actor, Permission, Purpose
from dancu.core.ids import RowId
from dancu.core.pagination import Page
from dancu.core.web import gettext_for
from dancu.credentials.keys import Keyring, get_keyring
from dancu.declarations import paper_import, service
from dancu.declarations.schemas import (
    DeclarationIn,
    DeclarationOut,
    DeclarationQuery,
    DeclarationSummary,
    PaperImportOut,
    RevokeIn,
)
from dancu.declarations.writer import get_writer

router = APIRouter(prefix="/api/v1", tags=["declarations"])
Declarant = Annotated[Actor, Depends(require(Permission.DECLARATIONS_CREATE))]
PaperClerk = Annotated[Actor, Depends(require(Permission.DECLARATIONS_PAPER))]
CSV = "text/csv; charset=utf-8"


def pass_keyring(request: Request) -> Keyring:
    """The keyring that signs passes, from the application's settings (override in tests)."""
    return get_keyring(request.app.state.settings)


PassKeyring = Annotated[Keyring, Depends(pass_keyring)]


def import_out(result: paper_import.ImportResult, base: str) -> PaperImportOut:
    return PaperImportOut(
        token=result.token, filename=result.filename, read=result.read, imported=result.imported,
        duplicates=result.duplicates, rejected=result.rejected, declaration_ids=result.declaration_ids,
        duplicate_ids=result.duplicate_ids, created_at=result.created_at,
        error_file=f"{base}/{result.token}/errors.csv" if result.has_error_file else None,
    )


@router.post("/declarations", status_code=201)
async def create(request: Request, data: DeclarationIn, actor: Declarant, session: DbSession,
                 keyring: PassKeyring) -> DeclarationOut:
    """Declare a trip for yourself or a household member (by `national_id`); returns the signed pass."""
    return await service.declare(session, actor, data, keyring=keyring, writer=get_writer(request.app))


@router.get("/declarations")
async def list_declarations(
    actor: CurrentActor, session: DbSession, query: Annotated[DeclarationQuery, Query()]
) -> Page[DeclarationSummary]:
    """Officials: declarations to or from their jurisdiction (filtered). Others: their own history."""
    if actor.can(Permission.DECLARATIONS_READ):
        return await service.list_declarations(session, actor, query)
    return await service.my_declarations(session, actor, query.page, query.size)


@router.post("/declarations/paper", status_code=201)
async def create_paper(data: DeclarationIn, actor: PaperClerk, session: DbSession, keyring: PassKeyring
                       ) -> DeclarationOut:
    """Enter a paper form on someone's behalf: ID, name and date of birth must match the register."""
    declaration = await service.create_paper_declaration(session, actor, data, keyring=keyring)
    return await service.as_created(session, declaration)


@router.post("/declarations/paper-import")
async def paper_import_upload(request: Request, file: UploadFile, actor: PaperClerk, session: DbSession,
                              settings: SettingsDep, keyring: PassKeyring) -> PaperImportOut:
    """Import a CSV/XLSX of paper forms (columns: see the upload page); rejected rows go to `error_file`."""
    data = await file.read(paper_import.MAX_BYTES + 1)
    result = await paper_import.import_paper_forms(session, actor, settings, file.filename or "", data,
                                                   keyring=keyring, gettext=gettext_for(request))
    return import_out(result, "/api/v1/declarations/paper-import")


@router.get("/declarations/paper-import/{token}")
async def paper_import_result(token: str, actor: PaperClerk, settings: SettingsDep) -> PaperImportOut:
    return import_out(paper_import.load_result(actor, settings, token), "/api/v1/declarations/paper-import")


@router.get("/declarations/paper-import/{token}/errors.csv")
async def paper_import_errors(token: str, actor: PaperClerk, settings: SettingsDep) -> FileResponse:
    path = paper_import.error_file(actor, settings, token)
    return FileResponse(path, media_type=CSV, filename=f"paper-forms-{token}.errors.csv")


@router.get("/declarations/paper-import-template.csv")
async def paper_template(actor: PaperClerk) -> Response:
    return Response(paper_import.template_csv(service.local_today()), media_type=CSV,
                    headers={"Content-Disposition": 'attachment; filename="paper-declarations.csv"'})


@router.get("/declarations/{declaration_id:int}")
async def read(declaration_id: RowId, actor: CurrentActor, session: DbSession, purpose: Purpose | None = None
               ) -> DeclarationOut:
    """A declaration. Officials give a `purpose` (recorded in the audit log)."""
    return await service.read_declaration(session, actor, declaration_id, purpose)


@router.post("/declarations/{declaration_id:int}/revoke")
async def revoke(declaration_id: RowId, body: RevokeIn, actor: CurrentActor, session: DbSession
                 ) -> DeclarationOut:
    """Revoke the pass at once: the holder, or an official of the origin or destination (reason required)."""
    return await service.revoke_declaration(session, actor, declaration_id, body.reason)
