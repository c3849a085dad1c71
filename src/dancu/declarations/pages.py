"""Declaration pages: the citizen's history and form, the pass (QR, print, PDF), officials' list.

The paper-form pages for officers are in `pages_paper` and mounted on this router.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dancu.accounts.deps import CurrentActor, DbSession, require
from dancu.accounts.permissions import Actor, Permission, Purpose, Role
from dancu.core.errors import DomainError, NotFound
from dancu.core.ids import RowId
from dancu.core.web import gettext_for, render
from dancu.declarations import pages_paper, service
from dancu.declarations.api import PassKeyring
from dancu.declarations.forms import form_errors, form_values, to_input
from dancu.declarations.models import EXPOSURES, SYMPTOMS, TRANSPORT_MODES
from dancu.declarations.printing import pass_pdf
from dancu.declarations.schemas import MAX_DAYS_AHEAD, DeclarationQuery
from dancu.declarations.writer import get_writer

router = APIRouter(include_in_schema=False)
router.include_router(pages_paper.router)
Declarant = Annotated[Actor, Depends(require(Permission.DECLARATIONS_CREATE))]
Official = Annotated[Actor, Depends(require(Permission.DECLARATIONS_READ))]
CHOICES = {"transport_modes": TRANSPORT_MODES, "symptom_codes": SYMPTOMS, "exposure_codes": EXPOSURES}


@router.get("/declarations", response_class=HTMLResponse)
async def history(request: Request, actor: CurrentActor, session: DbSession,
                  page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    if actor.role is not Role.CITIZEN:
        if actor.can(Permission.DECLARATIONS_READ):
            return RedirectResponse("/declarations/list", status_code=303)
        if actor.can(Permission.DECLARATIONS_PAPER):
            return RedirectResponse("/declarations/paper", status_code=303)
    result = await service.my_declarations(session, actor, page, 10)
    return render(request, "declarations/history.html", {"page": result, "base_url": "/declarations?"})


def _form_context(new: service.NewForm, form: dict[str, object], error: str | None = None,
                  errors: dict[str, str] | None = None) -> dict[str, object]:
    return {**CHOICES, "form": form, "members": new.members, "chosen": new.chosen, "labels": new.labels,
            "error": error, "errors": errors or {}, "max_date": _max_date(), "min_date": _min_date()}


def _min_date() -> str:
    return service.local_today().isoformat()


def _max_date() -> str:
    return (service.local_today() + timedelta(days=MAX_DAYS_AHEAD)).isoformat()


@router.get("/declarations/new", response_class=HTMLResponse)
async def new_page(request: Request, actor: Declarant, session: DbSession,
                   person: Annotated[int | None, Query()] = None) -> Response:
    new = await service.new_form(session, actor, person)
    return render(request, "declarations/new.html", _form_context(new, new.form))


@router.post("/declarations/new", response_class=HTMLResponse)
async def new_submit(request: Request, actor: Declarant, session: DbSession, keyring: PassKeyring
                     ) -> Response:
    values = form_values(await request.form())
    try:
        declaration = await service.create_declaration(session, actor, to_input(values), keyring=keyring,
                                                       writer=get_writer(request.app))
    except (DomainError, ValidationError) as exc:
        await session.rollback()  # nothing of a refused declaration is kept
        message, errors = form_errors(request, exc)
        new = await service.new_form(session, actor, None)
        chosen = next((m for m in new.members if m.national_id == values["national_id"]), new.chosen)
        new.chosen = chosen
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return render(request, "declarations/new.html", _form_context(new, values, message, errors),
                      status_code=status)
    return RedirectResponse(f"/declarations/{declaration.id}", status_code=303)


@router.get("/declarations/list", response_class=HTMLResponse)
async def official_list(request: Request, actor: Official, session: DbSession) -> Response:
    params = {k: v for k, v in request.query_params.items() if v}
    context: dict[str, object] = {"filters": params, "result": None, "error": None}
    try:
        query = DeclarationQuery.model_validate(params)
        context["result"] = await service.list_declarations(session, actor, query)
    except (DomainError, ValidationError) as exc:
        context["error"] = form_errors(request, exc)[0]
    kept = urlencode({k: v for k, v in params.items() if k != "page"})
    context["base_url"] = f"/declarations/list?{kept}&"
    return render(request, "declarations/list.html", context)


@router.get("/declarations/{declaration_id:int}", response_class=HTMLResponse)
async def pass_page(request: Request, declaration_id: RowId, actor: CurrentActor, session: DbSession,
                    purpose: Annotated[Purpose | None, Query()] = None) -> Response:
    if purpose is None and actor.is_staff and actor.can(Permission.DECLARATIONS_READ):
        return render(request, "registry/purpose.html", {"action": f"/declarations/{declaration_id}",
                                                          "purposes": list(Purpose)})
    declaration = await service.read_declaration(session, actor, declaration_id, purpose)
    return render(request, "declarations/pass.html", {"d": declaration, "purpose": purpose,
                                                       "can_revoke": _can_revoke(actor)})


def _can_revoke(actor: Actor) -> bool:
    return actor.role is Role.CITIZEN or actor.can(Permission.DECLARATIONS_REVOKE)


@router.post("/declarations/{declaration_id:int}/revoke")
async def revoke_submit(request: Request, declaration_id: RowId, actor: CurrentActor, session: DbSession,
                        reason: Annotated[str, Form(max_length=200)] = "",
                        purpose: Annotated[str, Form(max_length=40)] = "") -> Response:
    try:
        await service.revoke_declaration(session, actor, declaration_id, reason.strip() or None)
    except DomainError as exc:
        if exc.status_code == 403:
            await session.commit()  # keep a denial's audit entry
        return render(request, "error.html", {"status": exc.status_code, "field": exc.field,
                                              "message": exc.localized(gettext_for(request))},
                      status_code=exc.status_code)
    suffix = f"?purpose={purpose}" if purpose in set(Purpose) else ""
    return RedirectResponse(f"/declarations/{declaration_id}{suffix}", status_code=303)


@router.get("/declarations/{declaration_id:int}/print", response_class=HTMLResponse)
async def print_page(request: Request, declaration_id: RowId, actor: CurrentActor, session: DbSession
                     ) -> Response:
    passes = await service.passes_to_print(session, actor, [declaration_id])
    if not passes:
        await service.read_declaration(session, actor, declaration_id)  # the reason: not found / forbidden
        raise NotFound("Only the traveller and the officer who entered it can print this pass.")
    return render(request, "declarations/print.html", {"passes": passes})


@router.get("/declarations/{declaration_id:int}/pass.pdf")
async def pass_pdf_download(request: Request, declaration_id: RowId, actor: CurrentActor, session: DbSession
                            ) -> Response:
    passes = await service.passes_to_print(session, actor, [declaration_id])
    if not passes:
        await service.read_declaration(session, actor, declaration_id)
        raise NotFound("Only the traveller and the officer who entered it can print this pass.")
    body = pass_pdf(passes, gettext_for(request))
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="dancu-pass-{declaration_id}.pdf"'})
