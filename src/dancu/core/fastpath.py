"""The lean path for the hottest JSON endpoints (the scanning-device contract, online declarations).

FastAPI's request handling — its middleware stack, route matching, dependency resolution and response
validation — costs ~0.2 ms of CPU per request before a route runs: 3-4 times a plain ASGI handler
(bench/bench_scan.py measures both). At thousands of scans per second that is most of the budget. So a few
routes are also served by `FastRoute` handlers, tried before FastAPI: they read the body, authenticate a
bearer token, parse the body with the same pydantic model, call the same service functions as the FastAPI
route and answer the same JSON — same status codes, same error shapes, same headers and log line as
`RequestContextMiddleware` gives every other response.

A fast route declines (returns None from `accepts`) what it is not meant for — a request without a bearer
token (a browser's cookie session, which needs CSRF checks), another content type — and FastAPI serves it:
the FastAPI routes stay the documented ones (OpenAPI) and the fallback, so both ways are tested.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from starlette.types import Receive, Scope, Send

from dancu.core.errors import DomainError, PayloadTooLarge
from dancu.core.logging import request_id_var
from dancu.core.middleware import finish_headers, log_request, request_id_of

log = logging.getLogger("dancu.http")

_JSON = (b"content-type", b"application/json")


@dataclass(slots=True)
class FastRequest:
    app: FastAPI
    method: str
    path: str
    params: tuple[str, ...]  # the route pattern's groups
    headers: dict[bytes, bytes]  # lower-case names (the last value of a repeated header)
    client_ip: str
    request_id: str
    body: bytes = b""

    def header(self, name: bytes) -> str:
        return self.headers.get(name, b"").decode("latin-1")


@dataclass(frozen=True, slots=True)
class FastResponse:
    status: int
    body: bytes
    headers: tuple[tuple[bytes, bytes], ...] = ()


def json_response(status: int, content: Any) -> FastResponse:
    """As FastAPI's JSONResponse renders it (UTF-8, compact; the same bytes for JSON values), by pydantic's
    serialiser: ~7x faster than the json module for a passage reply."""
    return FastResponse(status, to_json(content))


def model_response(status: int, model: BaseModel) -> FastResponse:
    """A response model in JSON mode, as FastAPI serialises a route's return value."""
    return FastResponse(status, model.model_dump_json().encode())


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic errors as the API reports them: the field's dotted path (without body/query/path) and why."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        out.append({"field": ".".join(loc) or None, "message": err.get("msg", "invalid")})
    return out


def validation_body(errors: Sequence[Any]) -> dict[str, Any]:
    """The 422 body of the API (the same for FastAPI's request validation and a fast route's)."""
    details = validation_details(errors)
    first = details[0] if details else {"field": None, "message": "invalid"}
    # An error of no one field (invalid JSON, an array for an object, no body) is the body's, not "None"'s.
    where = first["field"] or "body"
    return {"error": "validation_failed", "message": f"{where}: {first['message']}",
            "field": first["field"], "details": details}


@dataclass(frozen=True, slots=True)
class FastRoute:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[[FastRequest], Awaitable[FastResponse]]
    accepts: Callable[[dict[bytes, bytes]], bool]  # False: leave the request to FastAPI
    max_body: int = 64 * 1024


def route(method: str, path: str, handler: Callable[[FastRequest], Awaitable[FastResponse]], *,
          accepts: Callable[[dict[bytes, bytes]], bool], max_body: int = 64 * 1024) -> FastRoute:
    """`path` in FastAPI's syntax with integer parameters only: "/api/v1/checkpoints/{checkpoint_id}/scan"."""
    regex = re.sub(r"\{[a-z_]+\}", r"([0-9]{1,18})", re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
    return FastRoute(method, re.compile(regex), handler, accepts, max_body)


def bearer_json(headers: dict[bytes, bytes]) -> bool:
    """A request for a fast route: a bearer token, and a JSON body (or none declared)."""
    auth = headers.get(b"authorization", b"")
    if auth[:7].lower() != b"bearer ":
        return False
    ctype = headers.get(b"content-type", b"application/json").split(b";", 1)[0].strip().lower()
    return ctype == b"application/json"


class Disconnected(Exception):
    """The client went away before its body arrived."""


async def _read_body(receive: Receive, limit: int, declared: bytes | None) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


@dataclass
class FastRoutes:
    routes: list[FastRoute] = field(default_factory=list)

    def match(self, scope: Scope) -> tuple[FastRoute, tuple[str, ...], dict[bytes, bytes]] | None:
        method, path = scope["method"], scope["path"]
        for r in self.routes:
            if r.method == method and (m := r.pattern.fullmatch(path)) is not None:
                headers = dict(scope["headers"])
                return (r, m.groups(), headers) if r.accepts(headers) else None
        return None

    async def serve(self, app: FastAPI, r: FastRoute, params: tuple[str, ...], headers: dict[bytes, bytes],
                    scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        rid = request_id_of(scope["headers"])
        client = scope.get("client")
        request = FastRequest(app, scope["method"], scope["path"], params, headers,
                              client[0] if client else "unknown", rid)
        token = request_id_var.set(rid)
        try:
            try:
                request.body = await _read_body(receive, r.max_body, headers.get(b"content-length"))
                response = await r.handler(request)
            except Disconnected:
                return
            except DomainError as exc:
                response = json_response(exc.status_code, exc.to_dict())
            except ValidationError as exc:
                response = json_response(422, validation_body(exc.errors(include_url=False)))
            except Exception:
                log.exception("unhandled error", extra={"path": scope["path"]})
                response = json_response(500, {"error": "internal", "message": "Internal error", "request_id": rid})
            headers_out = finish_headers(
                [_JSON, (b"content-length", str(len(response.body)).encode()), *response.headers], rid)
            await send({"type": "http.response.start", "status": response.status, "headers": headers_out})
            await send({"type": "http.response.body", "body": response.body})
            log_request(scope["method"], scope["path"], response.status, started)
        finally:
            request_id_var.reset(token)


class DancuAPI(FastAPI):
    """FastAPI with `fast_routes` tried first (see the module's docstring)."""

    fast_routes: FastRoutes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.fast_routes.match(scope)
            if found is not None:
                await self.fast_routes.serve(self, *found, scope, receive, send)
                return
        await super().__call__(scope, receive, send)
