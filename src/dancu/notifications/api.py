"""Notices API: the inbox (filters, pages), marking handled, the XLSX export, webhook subscriptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from dancu.accounts.deps import DbSession, SettingsDep, require
from dancu.accounts.permissions import Actor, Permission
from dancu.core.ids import RowId
from dancu.core.pagination import Page
from dancu.notifications import service, webhooks
from dancu.notifications.export import XLSX_TYPE, xlsx_response
from dancu.notifications.schemas import (
    HandledIn,
    HandledOut,
    NoticeFilter,
    NoticeOut,
    NoticeQuery,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
)

router = APIRouter(prefix="/api/v1", tags=["notices"])
Reader = Annotated[Actor, Depends(require(Permission.NOTICES_READ))]
HookManager = Annotated[Actor, Depends(require(Permission.WEBHOOKS_MANAGE))]


@router.get("/notices")
async def list_notices(
    actor: Reader, session: DbSession, query: Annotated[NoticeQuery, Query()]
) -> Page[NoticeOut]:
    """Arrivals and departures notified to units of your jurisdiction, newest first (audited)."""
    return await service.list_notices(session, actor, query)


@router.post("/notices/handled")
async def mark_handled(actor: Reader, session: DbSession, data: HandledIn) -> HandledOut:
    """Mark notices handled (idempotent; at most 500 ids per call)."""
    return await service.mark_handled(session, actor, data.ids)


@router.get("/notices/export.xlsx", response_class=Response,
            responses={200: {"content": {XLSX_TYPE: {}}}})
async def export_notices(actor: Reader, session: DbSession, f: Annotated[NoticeFilter, Query()]) -> Response:
    """The current filter as an XLSX file (at most 100,000 rows; narrow the filter beyond)."""
    return await xlsx_response(session, actor, f)


@router.get("/webhooks")
async def list_webhooks(actor: HookManager, session: DbSession) -> list[WebhookOut]:
    return await webhooks.list_webhooks(session, actor)


@router.post("/webhooks", status_code=201)
async def create_webhook(actor: HookManager, session: DbSession, settings: SettingsDep,
                         data: WebhookCreate) -> WebhookCreated:
    """Register a URL that receives each notice of the unit's subtree, signed with the returned secret
    (shown once): `X-Dancu-Signature: sha256=HMAC(secret, "<X-Dancu-Timestamp>." + body)`."""
    loopback = settings.env != "production"
    return await webhooks.create_webhook(session, actor, data, allow_loopback_http=loopback)


@router.delete("/webhooks/{webhook_id}")
async def deactivate_webhook(webhook_id: RowId, actor: HookManager, session: DbSession) -> WebhookOut:
    """Deactivate (deliveries stop; the record and its delivery history stay)."""
    return await webhooks.deactivate_webhook(session, actor, webhook_id)
