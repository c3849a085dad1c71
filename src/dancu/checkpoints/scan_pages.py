"""The officer's scan page (phone-first): choose a checkpoint, scan, see the verdict, confirm or refuse.

Element ids browser tests rely on: `#scan-input` (USB scanner / typing), `#camera-start`, `#verdict`
(`data-verdict="green|amber|red"`, the holder's name inside), `#confirm`, `#refuse`, `#last-result`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.deps import CurrentActor, DbSession
from dancu.checkpoints import service
from dancu.checkpoints.access import CheckpointRef, access_cache
from dancu.checkpoints.device import raise_for
from dancu.checkpoints.models import REFUSAL_REASONS
from dancu.checkpoints.passages import prepare
from dancu.checkpoints.recorder import get_recorder
from dancu.checkpoints.scan_service import check_code
from dancu.checkpoints.schemas import PassageIn
from dancu.core.db import utcnow
from dancu.core.errors import ValidationFailed
from dancu.core.ids import RowId
from dancu.core.web import render
from dancu.credentials.keys import get_keyring

router = APIRouter(include_in_schema=False)
REMEMBER_COOKIE = "dancu_checkpoint"
METHODS = ("camera", "usb", "manual")


async def _checkpoint(
    request: Request, actor: CurrentActor, checkpoint_id: int, session: AsyncSession
) -> CheckpointRef:
    return await access_cache(request.app).checkpoint_for(request.app.state.db, actor, checkpoint_id, session)


@router.get("/scan", response_class=HTMLResponse)
async def choose_page(request: Request, actor: CurrentActor, session: DbSession, choose: bool = False) -> Response:
    """Pick one of my checkpoints; the last one used is remembered on this device."""
    mine = await service.my_checkpoints(session, actor)
    remembered = request.cookies.get(REMEMBER_COOKIE, "")
    if not choose:
        ids = {c.id for c in mine}
        target = int(remembered) if remembered.isdigit() and int(remembered) in ids else None
        if target is None and len(mine) == 1:
            target = mine[0].id
        if target is not None:
            return RedirectResponse(f"/checkpoints/{target}/scan", status_code=303)
    return render(request, "checkpoints/choose.html", {"checkpoints": mine})


@router.get("/checkpoints/{checkpoint_id}/scan", response_class=HTMLResponse)
async def scan_page(request: Request, checkpoint_id: RowId, actor: CurrentActor, session: DbSession) -> Response:
    checkpoint = await _checkpoint(request, actor, checkpoint_id, session)
    response = render(request, "checkpoints/scan.html", {"checkpoint": checkpoint, "reasons": REFUSAL_REASONS})
    secure = bool(request.app.state.settings.cookie_secure)
    response.set_cookie(
        REMEMBER_COOKIE, str(checkpoint.id), max_age=30 * 86400, httponly=True, samesite="lax", secure=secure
    )
    return response


@router.post("/checkpoints/{checkpoint_id}/scan", response_class=HTMLResponse)
async def scan_submit(
    request: Request,
    checkpoint_id: RowId,
    actor: CurrentActor,
    session: DbSession,
    code: Annotated[str, Form(max_length=7100)] = "",
    method: Annotated[str, Form(max_length=8)] = "usb",
    direction: Annotated[str, Form(max_length=3)] = "in",
) -> Response:
    """HTMX: the verdict for a scanned or typed code, with the confirm/refuse form."""
    checkpoint = await _checkpoint(request, actor, checkpoint_id, session)
    if not code.strip():
        return Response(status_code=204)  # a scanner's extra Enter: nothing to show, keep the last result
    method = method if method in METHODS else "usb"
    now = utcnow()
    verdict = await check_code(
        session, actor, checkpoint, code, keyring=get_keyring(request.app.state.settings), now=now
    )
    return render(
        request,
        "checkpoints/_verdict.html",
        {
            "checkpoint": checkpoint,
            "v": verdict,
            "code": code.strip(),
            "method": method,
            "direction": "out" if direction == "out" else "in",
            "scanned_at": now.isoformat(),
            "idempotency_key": uuid.uuid4().hex,
            "reasons": REFUSAL_REASONS,
        },
    )


@router.post("/checkpoints/{checkpoint_id}/decide", response_class=HTMLResponse)
async def decide_submit(
    request: Request,
    checkpoint_id: RowId,
    actor: CurrentActor,
    session: DbSession,
    code: Annotated[str, Form(max_length=7100)] = "",
    decision: Annotated[str, Form(max_length=8)] = "",
    reason: Annotated[str, Form(max_length=24)] = "",
    reason_text: Annotated[str, Form(max_length=300)] = "",
    method: Annotated[str, Form(max_length=8)] = "usb",
    direction: Annotated[str, Form(max_length=3)] = "in",
    scanned_at: Annotated[str, Form(max_length=40)] = "",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
    label: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    """HTMX: record the officer's decision, then show a one-line result; the page is ready for the next."""
    checkpoint = await _checkpoint(request, actor, checkpoint_id, session)
    refusing = decision == "refuse"
    try:
        item = PassageIn.model_validate(
            {
                "code": code,
                "decision": decision,
                "reason": reason if refusing else None,
                "reason_text": reason_text if refusing else None,
                "method": method,
                "direction": direction,
                "scanned_at": datetime.fromisoformat(scanned_at) if scanned_at else utcnow(),
                "idempotency_key": idempotency_key,
            }
        )
    except (ValidationError, ValueError) as exc:
        field = exc.errors()[0]["loc"][0] if isinstance(exc, ValidationError) and exc.errors()[0]["loc"] else None
        raise ValidationFailed(
            "The decision could not be recorded: scan again.", field=str(field) if field else None
        ) from None
    pending = prepare(
        item,
        checkpoint_id=checkpoint.id,
        actor=actor,
        keyring=get_keyring(request.app.state.settings),
        now=utcnow(),
    )
    [outcome] = await get_recorder(request.app).submit([pending], session)
    raise_for(outcome)
    return render(
        request,
        "checkpoints/_last.html",
        {
            "outcome": outcome,
            "decision": item.decision,
            "reason": item.reason,
            "label": label.strip(),
            "at": item.scanned_at,
        },
    )
