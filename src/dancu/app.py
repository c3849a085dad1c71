"""The FastAPI application factory."""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from dancu import __version__
from dancu.checkpoints.recorder import shutdown as stop_recorder
from dancu.config import Settings, get_settings
from dancu.core.db import Database
from dancu.core.errors import DomainError, Unauthenticated
from dancu.core.fastpath import DancuAPI, FastRoutes, validation_body, validation_details
from dancu.core.inputs import NulGuard
from dancu.core.logging import configure_logging
from dancu.core.middleware import RequestContextMiddleware
from dancu.core.web import gettext_for, is_htmx, render
from dancu.declarations.writer import shutdown as stop_declaration_writer
from dancu.notifications.worker import delivery_worker

log = logging.getLogger("dancu.http")
STATIC_DIR = Path(__file__).resolve().parent / "static"

# Routers are listed by module so each domain stays self-contained; a missing optional module is an error.
ROUTERS = [
    "dancu.health",
    # The scanning API first: route matching is linear, and it is the hottest path.
    "dancu.checkpoints.api",
    "dancu.accounts.api",
    "dancu.accounts.pages",
    "dancu.units.api",
    "dancu.units.pages",
    "dancu.registry.api",
    "dancu.registry.pages",
    "dancu.registry.imports_web",
    "dancu.credentials.api",
    "dancu.declarations.api",
    "dancu.declarations.pages",
    "dancu.checkpoints.pages",
    "dancu.notifications.api",
    "dancu.notifications.pages",
]


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get("accept", "")


# The lean path for the hottest JSON routes (core.fastpath): each module's `fast_routes`, tried in this order.
FAST_ROUTES = [
    "dancu.checkpoints.device_api",
    "dancu.declarations.fast_api",
]


def install_error_handlers(app: FastAPI) -> None:
    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        if _wants_json(request):
            return JSONResponse(exc.to_dict(), status_code=exc.status_code)
        if isinstance(exc, Unauthenticated) and request.method == "GET" and not is_htmx(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        message = exc.localized(gettext_for(request))
        template = "partials/error.html" if is_htmx(request) else "error.html"
        return render(
            request,
            template,
            {"status": exc.status_code, "message": message, "field": exc.field},
            status_code=exc.status_code,
        )

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = validation_details(exc.errors())
        if _wants_json(request):
            return JSONResponse(validation_body(exc.errors()), status_code=422)
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        template = "partials/error.html" if is_htmx(request) else "error.html"
        return render(request, template, {"status": 422, "message": message, "field": None}, status_code=422)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if _wants_json(request):
            return JSONResponse(
                {"error": "http_error", "message": str(exc.detail)},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "message": str(exc.detail), "field": None},
            status_code=exc.status_code,
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        rid = getattr(request.state, "request_id", "")
        if _wants_json(request):
            return JSONResponse({"error": "internal", "message": "Internal error", "request_id": rid}, status_code=500)
        return render(
            request, "error.html", {"status": 500, "message": f"Internal error ({rid})", "field": None}, status_code=500
        )

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


# Python's cyclic GC, with its default thresholds, walks every object of a worker that holds SQLAlchemy's
# metadata and caches: the full collections were the scan API's p99 (169 ms -> 52 ms at the same load,
# bench/bench_scan.py). Objects alive at start-up are frozen out of the collector, and collections are
# made rarer; reference counting still frees everything that is not in a cycle at once.
GC_THRESHOLDS = (20_000, 50, 100)


def tune_gc() -> None:
    """For a server process, once its app is built."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(
    settings: Settings | None = None, db: Database | None = None, routers: list[str] | None = None
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = db is None
        if own:
            pool = {} if settings.is_sqlite else {
                "pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
            app.state.db = Database(settings.database_url, **pool)
            tune_gc()
        else:
            app.state.db = db
        try:
            if settings.webhook_worker:
                async with delivery_worker(app.state.db):
                    yield
            else:
                yield
        finally:
            await stop_recorder(app)
            await stop_declaration_writer(app)
            if own:
                await app.state.db.dispose()

    app = DancuAPI(
        title="dancu",
        version=__version__,
        description="Epidemic response on top of the national population register.",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    if db is not None:
        app.state.db = db

    # Inside the request context (its id and log line); answers with the app's own DomainError handler.
    app.add_middleware(NulGuard, handlers=app.exception_handlers)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    for name in ROUTERS if routers is None else routers:
        module = importlib.import_module(name)
        app.include_router(module.router)
    app.fast_routes = FastRoutes([r for name in (FAST_ROUTES if routers is None else [])
                                  for r in importlib.import_module(name).fast_routes])
    STATIC_DIR.mkdir(exist_ok=True)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
