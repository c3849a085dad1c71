"""Accounts API: login for API clients is by bearer token; session login/logout for pages lives in pages.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from dancu.accounts import repository as repo
from dancu.accounts import service
from dancu.accounts.deps import (
    CurrentActor,
    DbSession,
    SettingsDep,
    client_ip,
    require,
    set_session_cookie,
)
from dancu.accounts.permissions import Actor, Permission
from dancu.accounts.schemas import (
    AccountCreate,
    AccountOut,
    ClaimIn,
    LoginIn,
    MeOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
)
from dancu.core.ids import RowId
from dancu.core.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["accounts"])
Manager = Annotated[Actor, Depends(require(Permission.ACCOUNTS_MANAGE))]


@router.post("/auth/login")
async def api_login(body: LoginIn, request: Request, session: DbSession, settings: SettingsDep) -> JSONResponse:
    """Open a web session (cookie) — for browsers; API clients use bearer tokens."""
    token, actor = await service.login(session, settings, body.username, body.password, client_ip(request))
    resp = JSONResponse({"username": actor.username, "role": str(actor.role)})
    set_session_cookie(resp, token, settings)
    return resp


@router.post("/auth/claim", status_code=201)
async def api_claim(body: ClaimIn, request: Request, session: DbSession, settings: SettingsDep) -> dict[str, str]:
    account = await service.claim_record(session, settings, body, client_ip(request))
    return {"username": account.username}


@router.get("/me")
async def me(actor: CurrentActor) -> MeOut:
    return MeOut(
        id=actor.account_id,
        username=actor.username,
        display_name=actor.display_name,
        role=str(actor.role),
        unit_code=actor.unit_code,
        permissions=sorted(actor.permissions),
        person_id=actor.person_id,
    )


@router.get("/accounts")
async def list_accounts(
    actor: Manager,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Page[AccountOut]:
    rows, total = await service.list_accounts(session, actor, q, (page - 1) * size, size)
    items = [AccountOut.model_validate(a).model_copy(update={"unit_name": u.name}) for a, u in rows]
    return Page(items=items, total=total, page=page, size=size)


@router.post("/accounts", status_code=201)
async def create_account(body: AccountCreate, actor: Manager, session: DbSession) -> AccountOut:
    return AccountOut.model_validate(await service.create_account(session, actor, body))


@router.post("/accounts/{account_id}/deactivate")
async def deactivate(account_id: RowId, actor: Manager, session: DbSession) -> AccountOut:
    return AccountOut.model_validate(await service.set_active(session, actor, account_id, False))


@router.post("/accounts/{account_id}/activate")
async def activate(account_id: RowId, actor: Manager, session: DbSession) -> AccountOut:
    return AccountOut.model_validate(await service.set_active(session, actor, account_id, True))


@router.get("/tokens")
async def list_tokens(actor: CurrentActor, session: DbSession) -> list[TokenOut]:
    return [TokenOut.model_validate(t) for t in await repo.tokens_of(session, actor.account_id)]


@router.post("/tokens", status_code=201)
async def create_token(body: TokenCreate, actor: CurrentActor, session: DbSession) -> TokenCreated:
    token, plain = await service.create_token(session, actor, body)
    return TokenCreated.model_validate({**TokenOut.model_validate(token).model_dump(), "token": plain})


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(token_id: RowId, actor: CurrentActor, session: DbSession) -> TokenOut:
    return TokenOut.model_validate(await service.revoke_token(session, actor, token_id))
