"""Jinja2 pages: the template environment, per-request locale and the render helper."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dancu.core.i18n import pick_locale, translations

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.autoescape = True


def _fmt_dt(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M") if value else ""


def _fmt_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


templates.env.filters["dt"] = _fmt_dt
templates.env.filters["d"] = _fmt_date


def request_locale(request: Request) -> str:
    cached = getattr(request.state, "locale", None)
    if cached:
        return str(cached)
    settings = request.app.state.settings
    loc = pick_locale(request.cookies.get("lang"), request.headers.get("accept-language"), settings.default_locale)
    request.state.locale = loc
    return loc


def gettext_for(request: Request) -> Any:
    return translations(request_locale(request)).gettext


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    t = translations(request_locale(request))
    ctx: dict[str, Any] = {
        "request": request,
        "_": t.gettext,
        "ngettext": t.ngettext,
        "locale": request_locale(request),
        "actor": getattr(request.state, "actor", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status_code, headers=headers)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
