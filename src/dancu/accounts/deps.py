"""Route dependencies: the per-request session, the current actor, and permission checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts import service
from dancu.accounts.permissions import Actor, Permission
from dancu.accounts.security import csrf_token, csrf_valid
from dancu.config import Settings
from dancu.core.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "dancu_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request, committed at the edge."""
    async with request.app.state.db.unit_of_work() as session:
        yield session


# scope="function": the transaction ends (commit, or rollback on an error) when the route returns, before
# the response is sent. FastAPI's default for `yield` dependencies ends them after the response, so a client
# would get its 201 or its login cookie before the write is durable (tests/core/test_edge_commit.py).
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """The web-session cookie: HttpOnly, Secure (unless configured off for plain-http demos), SameSite=Lax."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=settings.cookie_secure, samesite="lax",
                        max_age=settings.session_hours * 3600)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def optional_actor(request: Request, session: DbSession) -> Actor | None:
    if hasattr(request.state, "actor"):
        return request.state.actor  # type: ignore[no-any-return]
    settings: Settings = request.app.state.settings
    ip, rid = client_ip(request), getattr(request.state, "request_id", None)
    actor: Actor | None = None
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        actor = await service.actor_for_bearer(session, auth[7:].strip(), ip, rid)
        if actor is None:
            raise Unauthenticated("The bearer token is invalid, expired or revoked.")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            actor = await service.actor_for_session(session, cookie, ip, rid)
            if actor is not None:
                request.state.csrf_token = csrf_token(settings.secret_key, cookie)
                if request.method not in SAFE_METHODS:
                    candidate = request.headers.get("x-csrf-token")
                    if candidate is None and "form" in request.headers.get("content-type", ""):
                        candidate = str((await request.form()).get("csrf_token") or "")
                    if not csrf_valid(settings.secret_key, cookie, candidate):
                        raise Forbidden("The form has expired. Reload the page and try again.")
    request.state.actor = actor
    return actor


async def current_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    if actor is None:
        raise Unauthenticated("Please log in.")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


def require(permission: Permission) -> Callable[[Actor], Awaitable[Actor]]:
    """Dependency factory: `actor: Annotated[Actor, Depends(require(Permission.REGISTRY_READ))]`."""

    async def check(actor: CurrentActor) -> Actor:
        if not actor.can(permission):
            raise Forbidden("Your role does not allow this.")
        return actor

    return check
