"""A request's transaction is committed before its response leaves the server.

FastAPI ends a `yield` dependency after the response has been sent unless it is declared with
scope="function". For the request's session that would mean a client could hold a 201 (or a login cookie)
for a write that is not yet durable, or that then fails to commit; and a browser that follows the redirect
at once reads the database before the write is there (the browser tests' login saw exactly that: the new
web session was not yet visible to the redirected request, which was sent back to /login).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dancu.accounts.models import WebSession
from dancu.accounts.permissions import Role
from dancu.app import create_app
from dancu.config import Settings
from dancu.core.db import Database
from tests.factories import PASSWORD, make_account


async def _sessions_of(reader: AsyncEngine, account_id: int) -> int:
    """Read as another client would. A plain engine: the app's SQLite connections begin IMMEDIATE (they take
    the write lock), and would wait for the request's transaction instead of reading past it."""
    async with reader.connect() as c:
        found = await c.scalar(select(func.count()).select_from(WebSession)
                               .where(WebSession.account_id == account_id))
        return int(found or 0)


async def test_the_write_is_committed_when_the_response_starts(fresh_db: str, settings: Settings) -> None:
    db = Database(fresh_db)
    reader = create_async_engine(fresh_db)
    try:
        async with db.unit_of_work() as s:
            account = await make_account(s, Role.HEALTH_WORKER, username="edge.commit")
            account_id = account.id
        app = create_app(settings, db=db)
        body = json.dumps({"username": "edge.commit", "password": PASSWORD}).encode()
        seen: dict[str, Any] = {}
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                # What another request (the browser following the answer) would read at this moment.
                seen["sessions_at_response"] = await _sessions_of(reader, account_id)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "https", "path": "/api/v1/auth/login", "raw_path": b"/api/v1/auth/login",
            "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000), "server": ("testserver", 443),
        }
        await app(scope, receive, send)
        assert seen["status"] == 200
        assert seen["sessions_at_response"] == 1
    finally:
        await reader.dispose()
        await db.dispose()
