"""Pages: login/logout, citizen sign-up, staff home, language switch, account and token management."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dancu.accounts import repository as repo
from dancu.accounts import service
from dancu.accounts.deps import (
    SESSION_COOKIE,
    CurrentActor,
    DbSession,
    OptionalActor,
    SettingsDep,
    client_ip,
    require,
    set_session_cookie,
)
from dancu.accounts.permissions import CREATABLE_ROLES, Actor, Permission, Role
from dancu.accounts.schemas import AccountCreate, ClaimIn, TokenCreate
from dancu.accounts.security import csrf_token, csrf_valid
from dancu.config import Settings
from dancu.core.errors import DomainError
from dancu.core.ids import RowId
from dancu.core.pagination import Page
from dancu.core.web import gettext_for, render

router = APIRouter(include_in_schema=False)
Manager = Annotated[Actor, Depends(require(Permission.ACCOUNTS_MANAGE))]


# Forms posted before anyone is logged in (log in, sign up) are bound to a random cookie of their own, so
# another site cannot post them in the visitor's browser (login CSRF: logging the victim into the
# attacker's account). SameSite=Strict: the cookie is never sent with a cross-site request.
FORM_COOKIE = "dancu_form"
FORM_EXPIRED = "The form has expired. Reload the page and try again."


def _render_anonymous(request: Request, settings: Settings, template: str, context: dict[str, object],
                      status_code: int = 200) -> Response:
    """Render a log-in or sign-up page with its form token (`form_token`), setting the form cookie if the
    visitor has none yet."""
    key = request.cookies.get(FORM_COOKIE)
    new = None if key else secrets.token_urlsafe(24)
    form_token = csrf_token(settings.secret_key, "form:" + (key or new or ""))
    resp = render(request, template, {**context, "form_token": form_token}, status_code=status_code)
    if new:
        resp.set_cookie(FORM_COOKIE, new, httponly=True, secure=settings.cookie_secure, samesite="strict",
                        max_age=24 * 3600)
    return resp


def _anonymous_form_valid(request: Request, settings: Settings, candidate: str) -> bool:
    key = request.cookies.get(FORM_COOKIE)
    return bool(key) and csrf_valid(settings.secret_key, "form:" + (key or ""), candidate)


def _safe_next(next_url: str | None) -> str:
    return next_url if next_url and next_url.startswith("/") and not next_url.startswith("//") else "/"


def _form_error(request: Request, exc: DomainError | ValidationError) -> tuple[str, str | None]:
    if isinstance(exc, DomainError):
        return exc.localized(gettext_for(request)), exc.field
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ()))
    return f"{field}: {err.get('msg')}", field


@router.get("/", response_class=HTMLResponse)
async def index(actor: OptionalActor) -> Response:
    if actor is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/me" if actor.role is Role.CITIZEN else "/staff", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, actor: OptionalActor, settings: SettingsDep, next: str | None = None
                     ) -> Response:
    return _render_anonymous(request, settings, "accounts/login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form()] = "/",
    csrf: Annotated[str, Form(alias="csrf_token", max_length=128)] = "",
) -> Response:
    if not _anonymous_form_valid(request, settings, csrf):
        return _render_anonymous(
            request, settings, "accounts/login.html",
            {"next": _safe_next(next), "error": gettext_for(request)(FORM_EXPIRED), "username": username},
            status_code=403,
        )
    try:
        token, _actor = await service.login(session, settings, username, password, client_ip(request))
    except DomainError as exc:
        # The failed attempt must be counted even though we answer with a page, not an error.
        await session.commit()
        return _render_anonymous(
            request, settings, "accounts/login.html",
            {"next": _safe_next(next), "error": exc.localized(gettext_for(request)), "username": username},
            status_code=exc.status_code,
        )
    resp = RedirectResponse(_safe_next(next) if next != "/" else "/", status_code=303)
    set_session_cookie(resp, token, settings)
    return resp


@router.post("/logout")
async def logout(request: Request, session: DbSession, actor: OptionalActor) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await service.logout(session, cookie)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@router.post("/lang")
async def set_language(
    actor: OptionalActor, lang: Annotated[str, Form()] = "vi", next: Annotated[str, Form()] = "/"
) -> Response:
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie("lang", "en" if lang == "en" else "vi", max_age=365 * 86400, samesite="lax", httponly=True)
    return resp


@router.get("/signup", response_class=HTMLResponse)
async def signup_page(request: Request, actor: OptionalActor, settings: SettingsDep) -> Response:
    return _render_anonymous(request, settings, "accounts/signup.html", {"error": None, "form": {}})


@router.post("/signup", response_class=HTMLResponse)
async def signup_submit(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    national_id: Annotated[str, Form(max_length=20)] = "",
    full_name: Annotated[str, Form(max_length=120)] = "",
    dob: Annotated[str, Form(max_length=10)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf: Annotated[str, Form(alias="csrf_token", max_length=128)] = "",
) -> Response:
    form = {"national_id": national_id, "full_name": full_name, "dob": dob}
    if not _anonymous_form_valid(request, settings, csrf):
        return _render_anonymous(request, settings, "accounts/signup.html",
                                 {"error": gettext_for(request)(FORM_EXPIRED), "form": form}, status_code=403)
    try:
        try:
            dob_value = date.fromisoformat(dob)
        except ValueError:
            dob_value = date(1, 1, 1)  # an impossible date: the claim fails with the generic message
        data = ClaimIn(national_id=national_id, full_name=full_name or "-", dob=dob_value, password=password or "-")
        account = await service.claim_record(session, settings, data, client_ip(request))
    except (DomainError, ValidationError) as exc:
        await session.commit()  # keep the failed-attempt counter
        message, _field = _form_error(request, exc)
        return _render_anonymous(request, settings, "accounts/signup.html", {"error": message, "form": form},
                                 status_code=422)
    return RedirectResponse(f"/login?next=/me&created={quote(account.username)}", status_code=303)


@router.get("/staff", response_class=HTMLResponse)
async def staff_home(request: Request, actor: CurrentActor) -> Response:
    if actor.role is Role.CITIZEN:
        return RedirectResponse("/me", status_code=303)
    return render(request, "accounts/home.html", {})


@router.get("/accounts", response_class=HTMLResponse)
async def accounts_page(
    request: Request,
    actor: Manager,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    size = 25
    rows, total = await service.list_accounts(session, actor, q, (page - 1) * size, size)
    return render(
        request,
        "accounts/list.html",
        {
            "rows": rows,
            "page": Page(items=[], total=total, page=page, size=size),
            "q": q or "",
            "base_url": f"/accounts?q={quote(q or '')}&",
        },
    )


@router.get("/accounts/new", response_class=HTMLResponse)
async def new_account_page(request: Request, actor: Manager) -> Response:
    return render(
        request,
        "accounts/new.html",
        {
            "roles": sorted(CREATABLE_ROLES[actor.role] - {Role.CITIZEN}),
            "error": None,
            "form": {"unit_code": actor.unit_code},
        },
    )


@router.post("/accounts/new", response_class=HTMLResponse)
async def new_account_submit(
    request: Request,
    actor: Manager,
    session: DbSession,
    username: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=120)] = "",
    role: Annotated[str, Form(max_length=24)] = "",
    unit_code: Annotated[str, Form(max_length=10)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    form = {"username": username, "display_name": display_name, "role": role, "unit_code": unit_code}
    try:
        data = AccountCreate.model_validate(
            {
                "username": username.strip().lower(),
                "display_name": display_name,
                "role": role,
                "unit_code": unit_code.strip(),
                "password": password,
            }
        )
        account = await service.create_account(session, actor, data)
    except (DomainError, ValidationError) as exc:
        message, field = _form_error(request, exc)
        if isinstance(exc, DomainError) and exc.status_code == 403:
            await session.commit()
        return render(
            request,
            "accounts/new.html",
            {
                "roles": sorted(CREATABLE_ROLES[actor.role] - {Role.CITIZEN}),
                "error": message,
                "error_field": field,
                "form": form,
            },
            status_code=422,
        )
    return RedirectResponse(f"/accounts?q={quote(account.username)}", status_code=303)


@router.post("/accounts/{account_id}/active")
async def toggle_active(
    actor: Manager, session: DbSession, account_id: RowId, active: Annotated[bool, Form()] = False
) -> Response:
    await service.set_active(session, actor, account_id, active)
    return RedirectResponse("/accounts", status_code=303)


@router.get("/tokens", response_class=HTMLResponse)
async def tokens_page(request: Request, actor: CurrentActor, session: DbSession) -> Response:
    tokens = await repo.tokens_of(session, actor.account_id)
    return render(request, "accounts/tokens.html", {"tokens": tokens, "created": None})


@router.post("/tokens", response_class=HTMLResponse)
async def tokens_create(
    request: Request,
    actor: CurrentActor,
    session: DbSession,
    name: Annotated[str, Form(min_length=1, max_length=80)],
    days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> Response:
    _token, plain = await service.create_token(session, actor, TokenCreate(name=name, days=days))
    tokens = await repo.tokens_of(session, actor.account_id)
    return render(request, "accounts/tokens.html", {"tokens": tokens, "created": plain})


@router.post("/tokens/{token_id}/revoke")
async def tokens_revoke(actor: CurrentActor, session: DbSession, token_id: RowId) -> Response:
    await service.revoke_token(session, actor, token_id)
    return RedirectResponse("/tokens", status_code=303)
