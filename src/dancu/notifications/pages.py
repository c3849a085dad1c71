"""Pages: the arrivals/departures inbox with live updates (server-sent events), marking handled, the XLSX
export and the webhook subscriptions of the actor's unit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from dancu.accounts.deps import DbSession, SettingsDep, optional_actor, require
from dancu.accounts.permissions import Actor, Permission
from dancu.core.db import Database
from dancu.core.errors import DomainError, Forbidden, NotFound, Unauthenticated, ValidationFailed
from dancu.core.ids import RowId
from dancu.core.web import gettext_for, is_htmx, render, templates
from dancu.notifications import service, webhooks
from dancu.notifications.export import xlsx_response
from dancu.notifications.schemas import HandledIn, NoticeFilter, NoticeOut, NoticeQuery, WebhookCreate

router = APIRouter(include_in_schema=False)
Reader = Annotated[Actor, Depends(require(Permission.NOTICES_READ))]
HookManager = Annotated[Actor, Depends(require(Permission.WEBHOOKS_MANAGE))]

POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
FILTER_KEYS = ("date_from", "date_to", "kind", "checkpoint_id", "origin_province", "handled")


def _params(request: Request, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k in keys and v.strip()}


def _error_text(request: Request, exc: DomainError | ValidationError) -> str:
    if isinstance(exc, DomainError):
        return exc.localized(gettext_for(request))
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ()))
    return f"{field}: {err.get('msg')}" if field else str(err.get("msg"))


def _safe_next(url: str) -> str:
    return url if url.startswith("/notices") and "//" not in url else "/notices"


# --- the inbox ------------------------------------------------------------------------------------

@router.get("/notices", response_class=HTMLResponse)
async def inbox(request: Request, actor: Reader, session: DbSession) -> Response:
    form = _params(request, (*FILTER_KEYS, "page"))
    error = None
    try:
        query = NoticeQuery.model_validate(form)
    except ValidationError as exc:
        error, query = _error_text(request, exc), NoticeQuery()
    f = NoticeFilter.model_validate(query.model_dump(exclude={"page", "size"}))
    latest = await service.latest_id(session, actor)  # before the list, so the stream misses nothing
    result = await service.list_notices(session, actor, query)
    qs = urlencode(f.as_query())
    return render(request, "notifications/inbox.html", {
        "result": result, "page": result, "form": form, "error": error, "latest": latest, "qs": qs,
        "base_url": f"/notices?{qs}&" if qs else "/notices?", "live": query.page == 1,
        "provinces": await service.provinces(session),
        "checkpoint_label": await service.checkpoint_name(session, f.checkpoint_id),
        "handled_count": request.query_params.get("handled_count"),
        "can_webhooks": actor.can(Permission.WEBHOOKS_MANAGE),
    })


@router.get("/notices/checkpoints", response_class=HTMLResponse)
async def checkpoint_options(request: Request, actor: Reader, session: DbSession) -> Response:
    text = request.query_params.get("checkpoint_id", "")
    options = await service.checkpoint_options(session, actor, text)
    return render(request, "notifications/checkpoint_options.html", {"options": options})


@router.post("/notices/handled", response_class=HTMLResponse)
async def mark_handled(request: Request, actor: Reader, session: DbSession,
                       ids: Annotated[list[int] | None, Form()] = None,
                       next: Annotated[str, Form(max_length=2000)] = "/notices") -> Response:
    try:
        data = HandledIn.model_validate({"ids": ids or []})
    except ValidationError:
        raise ValidationFailed("Select at least one notice (at most 500).", field="ids") from None
    result = await service.mark_handled(session, actor, data.ids)
    if is_htmx(request) and len(data.ids) == 1:
        rows = await service.notices_by_id(session, actor, data.ids)
        if not rows:
            raise NotFound("No notice with this identifier in your jurisdiction.")
        return render(request, "notifications/_row.html", {"n": rows[0]})
    target = _safe_next(next)
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}handled_count={len(result.updated)}", status_code=303)


@router.get("/notices/export.xlsx")
async def export(request: Request, actor: Reader, session: DbSession) -> Response:
    try:
        f = NoticeFilter.model_validate(_params(request, FILTER_KEYS))
    except ValidationError as exc:
        raise ValidationFailed(_error_text(request, exc)) from None
    return await xlsx_response(session, actor, f)


# --- the live stream ------------------------------------------------------------------------------

def sse(event: str | None, data: str = "", event_id: int | None = None) -> str:
    """One server-sent event; multi-line data is sent as several `data:` lines (the browser rejoins them)."""
    lines = [f"id: {event_id}"] if event_id is not None else []
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in (data.splitlines() or [""]))
    return "\n".join(lines) + "\n\n"


async def notice_events(
    db: Database, actor: Actor, f: NoticeFilter, after_id: int, render_row: Callable[[NoticeOut], str], *,
    poll: float = POLL_SECONDS, heartbeat: float = HEARTBEAT_SECONDS, once: bool = False,
    is_disconnected: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[str]:
    """Poll for notices newer than `after_id` in the actor's scope and filter; one event per notice.

    Each poll is its own short transaction (no connection is held between polls). A comment is sent
    after `heartbeat` quiet seconds so proxies keep the connection; `once` stops after the first poll."""
    yield f"retry: 3000\n\n{sse('ready', str(after_id))}"
    last, quiet = after_id, 0.0
    while True:
        async with db.unit_of_work() as s:
            rows = await service.new_notices(s, actor, f, last)
        if rows:
            last, quiet = rows[-1].id, 0.0
            yield "".join(sse("notice", render_row(n), n.id) for n in rows)
        if once or (is_disconnected is not None and await is_disconnected()):
            return
        if len(rows) >= 50:
            continue  # a backlog: fetch the next batch at once
        quiet += poll
        if quiet >= heartbeat:
            quiet = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(poll)


def row_renderer(request: Request) -> Callable[[NoticeOut], str]:
    template = templates.get_template("notifications/_row.html")
    context = {"request": request, "_": gettext_for(request), "fresh": True,
               "csrf_token": getattr(request.state, "csrf_token", "")}
    return lambda n: template.render({**context, "n": n})


@router.get("/notices/stream")
async def stream(request: Request, after: Annotated[int | None, Query(ge=0)] = None,
                 once: bool = False) -> Response:
    """text/event-stream of new notices (event `notice`, data = the rendered inbox row, id = notice id)."""
    try:
        f = NoticeFilter.model_validate(_params(request, FILTER_KEYS))
    except ValidationError as exc:
        raise ValidationFailed(_error_text(request, exc)) from None
    last_event = request.headers.get("last-event-id", "")
    db: Database = request.app.state.db
    # Authenticate and audit in a short transaction of our own: the stream must not pin a connection.
    async with db.unit_of_work() as s:
        actor = await optional_actor(request, s)
        if actor is None:
            raise Unauthenticated("Please log in.")
        if not actor.can(Permission.NOTICES_READ):
            raise Forbidden("Your role does not allow this.")
        start = await service.open_stream(s, actor, f, int(last_event) if last_event.isdigit() else after)
    events = notice_events(db, actor, f, start, row_renderer(request), once=once,
                           is_disconnected=request.is_disconnected)
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# --- webhooks -------------------------------------------------------------------------------------

@router.get("/notices/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, actor: HookManager, session: DbSession) -> Response:
    hooks = await webhooks.list_webhooks(session, actor)
    return render(request, "notifications/webhooks.html", {"hooks": hooks, "created": None, "error": None,
                                                           "form": {"unit_code": actor.unit_code}})


@router.post("/notices/webhooks", response_class=HTMLResponse)
async def webhooks_create(request: Request, actor: HookManager, session: DbSession, settings: SettingsDep,
                          url: Annotated[str, Form(max_length=600)] = "",
                          unit_code: Annotated[str, Form(max_length=20)] = "") -> Response:
    form = {"url": url, "unit_code": unit_code}
    created, error, status = None, None, 200
    try:
        data = WebhookCreate.model_validate(form)
        created = await webhooks.create_webhook(session, actor, data,
                                                allow_loopback_http=settings.env != "production")
    except (DomainError, ValidationError) as exc:
        error, status = _error_text(request, exc), 422
    hooks = await webhooks.list_webhooks(session, actor)
    return render(request, "notifications/webhooks.html",
                  {"hooks": hooks, "created": created, "error": error, "form": form if error else {}},
                  status_code=status)


@router.post("/notices/webhooks/{webhook_id}/deactivate")
async def webhooks_deactivate(actor: HookManager, session: DbSession, webhook_id: RowId) -> Response:
    await webhooks.deactivate_webhook(session, actor, webhook_id)
    return RedirectResponse("/notices/webhooks", status_code=303)
