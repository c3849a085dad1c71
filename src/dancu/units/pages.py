"""Unit picker partial: <option> elements for a <datalist>, filled as the user types."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dancu.accounts.deps import DbSession, OptionalActor
from dancu.core.web import render
from dancu.units import service

router = APIRouter(include_in_schema=False)


@router.get("/units/options", response_class=HTMLResponse)
async def unit_options(request: Request, session: DbSession, actor: OptionalActor) -> Response:
    # The picker sends the value of whichever input it is attached to, under that input's name.
    text = next(iter(request.query_params.values()), "")[:100]
    level = request.headers.get("x-unit-level") or None
    units = await service.search_units(session, actor, text, level=level, limit=15) if text.strip() else []
    return render(request, "partials/unit_options.html", {"units": units})
