"""Text from outside never holds NUL: refused in one place, at the edge, for every route.

PostgreSQL cannot take NUL in a text parameter ("invalid byte sequence for encoding UTF8: 0x00": a failed
statement, a 500), and no name, address, code, search or QR text has one. Instead of a check on each of the
many text fields and parameters (which a new field would miss), `NulGuard` looks at what every request
carries as text before any route reads it: the path, the query string, and a JSON or form-encoded body. The
answer is the field's 422, rendered by the app's one DomainError handler (JSON for the API, a page for HTML).

Files (multipart uploads) are not text: a spreadsheet holds NUL bytes. Their rows are validated by the
importers, and the text fields of a multipart form are checked by the routes' own rules.

The hot scanning routes (core.fastpath) answer before the middleware stack; their inputs are checked by
their own models (a code is parsed by the credentials core, an idempotency key has a pattern).

Row ids from outside are held to their columns' range by core.ids, where they are declared.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dancu.core.errors import DomainError, PayloadTooLarge, ValidationFailed

NUL_MESSAGE = "must not contain NUL characters"
# A JSON or form body is read into memory by every route that takes one; past this it is refused (413).
MAX_TEXT_BODY = 16 * 1024 * 1024
_JSON_NUL = b"\\u0000"
_FORM_NUL = b"%00"

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def nul_in_query(query: str) -> str | None:
    """The first query parameter whose name or value holds NUL."""
    for key, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in key or "\x00" in value:
            return key.replace("\x00", "") or "query"
    return None


def nul_in_json(value: Any, path: tuple[str, ...] = ()) -> str | None:
    """The dotted path (as the API names fields: items.0.code) of the first text holding NUL."""
    if isinstance(value, str):
        return ".".join(path) or "body" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return ".".join(path) or "body"
            found = nul_in_json(item, (*path, key))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_in_json(item, (*path, str(index)))
            if found:
                return found
    return None


def _body_kind(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            if media == b"application/json" or media.endswith(b"+json"):
                return "json"
            if media == b"application/x-www-form-urlencoded":
                return "form"
            return None
    return None


def nul_in_body(kind: str, body: bytes) -> str | None:
    if kind == "json":
        if _JSON_NUL not in body:
            return None
        try:
            return nul_in_json(json.loads(body))
        except ValueError:  # invalid JSON: the route refuses it as such
            return None
    if _FORM_NUL not in body and b"\x00" not in body:
        return None
    return nul_in_query(body.decode("latin-1"))


class NulGuard:
    """ASGI middleware: a request whose path, query or text body holds NUL gets the field's 422."""

    def __init__(self, app: ASGIApp, handlers: Mapping[Any, Handler]) -> None:
        self.app = app
        self.handlers = handlers  # the app's exception handlers (filled in when the app is built)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field: str | None = None
        if "\x00" in scope["path"]:
            field = "path"
        else:
            query: bytes = scope.get("query_string", b"")
            if _FORM_NUL in query or b"\x00" in query:
                field = nul_in_query(query.decode("latin-1"))
        kind = _body_kind(scope) if field is None else None
        if kind is not None:
            body, too_large = await self._read(receive)
            if too_large:
                await self._refuse(scope, receive, send, PayloadTooLarge(
                    "the body is larger than {limit} bytes", params={"limit": MAX_TEXT_BODY}))
                return
            field = nul_in_body(kind, body)
            if field is None:
                await self.app(scope, _replay(body, receive), send)
                return
        if field is not None:
            await self._refuse(scope, receive, send, ValidationFailed(
                f"{field}: {NUL_MESSAGE}", field=field, details=[{"field": field, "message": NUL_MESSAGE}]))
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _read(receive: Receive) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return b"".join(chunks), False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_TEXT_BODY:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: DomainError) -> None:
        handler = self.handlers[DomainError]
        response = handler(Request(scope, receive), exc)
        if not isinstance(response, Response):
            response = await response
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
