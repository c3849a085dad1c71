"""Request context as a plain ASGI middleware (no per-request task, unlike BaseHTTPMiddleware):
request id, security headers, one structured log line per request without personal data."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dancu.core.logging import request_id_var

log = logging.getLogger("dancu.http")

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID (at most 64 characters), else a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            rid = value.decode("latin-1")[:64]
            if rid:
                return rid
            break
    return uuid.uuid4().hex


def finish_headers(headers: list[tuple[bytes, bytes]], rid: str, *, static: bool = False) -> list[tuple[bytes, bytes]]:
    """A response's headers with the request id, the security headers and (not for static files) no-store."""
    present = {k.lower() for k, _ in headers}
    headers.append((b"x-request-id", rid.encode("latin-1")))
    headers.extend(h for h in _SECURITY_HEADERS if h[0] not in present)
    if not static and b"cache-control" not in present:
        headers.append((b"cache-control", b"no-store"))
    return headers


def log_request(method: str, path: str, status: int, started: float) -> None:
    """The one log line per request: no query string, no body, no personal data."""
    log.info("request", extra={"method": method, "path": path, "status": status,
                               "ms": round((time.perf_counter() - started) * 1000, 1)})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope["headers"])
        scope.setdefault("state", {})["request_id"] = rid
        path: str = scope["path"]
        static = path.startswith("/static/")
        start = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = finish_headers(list(message.get("headers", [])), rid, static=static)
            await send(message)

        token = request_id_var.set(rid)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            request_id_var.reset(token)
            if not static:
                log_request(scope["method"], path, status["code"], start)
