"""Register pages: search, the audited person page, households, the citizen's own page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from dancu.accounts.deps import CurrentActor, DbSession, require
from dancu.accounts.permissions import Actor, Permission, Purpose
from dancu.core.errors import DomainError
from dancu.core.ids import RowId
from dancu.core.web import gettext_for, is_htmx, render
from dancu.registry import service
from dancu.registry.schemas import PersonSearch

router = APIRouter(include_in_schema=False)
Reader = Annotated[Actor, Depends(require(Permission.REGISTRY_READ))]


@router.get("/registry", response_class=HTMLResponse)
async def search_page(request: Request, actor: Reader, session: DbSession) -> Response:
    params = {k: v for k, v in request.query_params.items() if v}
    context: dict[str, object] = {"form": params, "result": None, "error": None}
    if params.keys() & {"q", "household_id"}:
        try:
            query = PersonSearch.model_validate(params)
            result = await service.search_persons(session, actor, query)
            context["result"] = result
            context["base_url"] = "/registry?" + urlencode({k: v for k, v in params.items() if k != "page"}) + "&"
        except ValidationError as exc:
            err = exc.errors()[0]
            context["error"] = f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
        except DomainError as exc:
            context["error"] = exc.localized(gettext_for(request))
    template = "registry/_results.html" if is_htmx(request) else "registry/search.html"
    return render(request, template, context)


@router.get("/registry/persons/{person_id}", response_class=HTMLResponse)
async def person_page(
    request: Request,
    person_id: RowId,
    actor: Reader,
    session: DbSession,
    purpose: Annotated[Purpose | None, Query()] = None,
) -> Response:
    if purpose is None:
        # Opening a record needs a purpose; ask for it first (nothing is read yet).
        return render(
            request, "registry/purpose.html", {"action": f"/registry/persons/{person_id}", "purposes": list(Purpose)}
        )
    person = await service.read_person(session, actor, person_id, purpose)
    return render(request, "registry/person.html", {"person": person, "purpose": purpose})


@router.get("/registry/households/{household_id}", response_class=HTMLResponse)
async def household_page(
    request: Request,
    household_id: str,
    actor: Reader,
    session: DbSession,
    purpose: Annotated[Purpose | None, Query()] = None,
) -> Response:
    if purpose is None:
        return render(
            request,
            "registry/purpose.html",
            {"action": f"/registry/households/{household_id}", "purposes": list(Purpose)},
        )
    members = await service.household(session, actor, household_id, purpose)
    return render(
        request, "registry/household.html", {"members": members, "household_id": household_id, "purpose": purpose}
    )


@router.get("/me", response_class=HTMLResponse)
async def my_page(
    request: Request, actor: CurrentActor, session: DbSession, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    person = await service.my_record(session, actor)
    household = await service.my_household(session, actor)
    reads = await service.who_read_my_record(session, actor, page, 20)
    return render(
        request,
        "registry/me.html",
        {"person": person, "household": household, "reads": reads, "page": reads, "base_url": "/me?"},
    )
