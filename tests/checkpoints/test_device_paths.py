"""The scanning-device contract answers the same through the lean path (core.fastpath, bearer tokens) and
through the FastAPI routes (api.py): status, body and error shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI

from dancu.core.fastpath import FastRoutes
from tests.checkpoints.conftest import Scene, make_declaration, passage
from tests.factories import make_person

VOLATILE = {"id", "idempotency_key", "pass_id", "scanned_at", "recorded_at"}


@pytest_asyncio.fixture(loop_scope="session")
async def slow_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The same app with the fast routes switched off: every request goes through FastAPI."""
    from dancu.app import create_app

    other = create_app(app.state.settings, db=app.state.db)
    other.fast_routes = FastRoutes([])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url="https://testserver") as c:
        yield c


def stable(body: Any) -> Any:
    """A response body without the values that differ between two otherwise equal requests."""
    if isinstance(body, dict):
        return {k: stable(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [stable(v) for v in body]
    return body


async def both(client: httpx.AsyncClient, slow: httpx.AsyncClient, path: str, make_body: Any,
               headers: dict[str, str], content: bytes | None = None) -> tuple[httpx.Response, httpx.Response]:
    responses = []
    for c in (client, slow):
        if content is not None:
            r = await c.post(path, content=content, headers={**headers, "Content-Type": "application/json"})
        else:
            r = await c.post(path, json=make_body(), headers=headers)
        responses.append(r)
    fast, fastapi = responses
    assert fast.status_code == fastapi.status_code, (fast.text, fastapi.text)
    assert stable(fast.json()) == stable(fastapi.json())
    assert fast.headers["content-type"] == fastapi.headers["content-type"] == "application/json"
    for name in ("x-request-id", "x-content-type-options", "x-frame-options", "referrer-policy"):
        assert fast.headers.get(name) and fastapi.headers.get(name), name
    assert fast.headers["cache-control"] == "no-store"
    return fast, fastapi


async def test_passages_answer_alike(client: httpx.AsyncClient, slow_client: httpx.AsyncClient, session: Any,
                                     scene: Scene) -> None:
    path = f"/api/v1/checkpoints/{scene.checkpoint.id}/passages"
    # Two travellers, so that the second record is not "already scanned" after the first.
    other = await make_declaration(session, await make_person(session), scene.keyring, destination=scene.destination)
    codes = iter([scene.code, other.pass_code])
    fast, _ = await both(client, slow_client, path, lambda: passage(next(codes)), scene.headers)
    assert fast.status_code == 201 and fast.json()["status"] == "created"
    # A replay of the first: 200 with the same passage on both paths.
    first = passage(scene.code)
    first["idempotency_key"] = fast.json()["passage"]["idempotency_key"]
    for c in (client, slow_client):
        r = await c.post(path, json=first, headers=scene.headers)
        assert r.status_code == 200 and r.json()["passage"]["id"] == fast.json()["passage"]["id"]


async def test_errors_answer_alike(client: httpx.AsyncClient, slow_client: httpx.AsyncClient, scene: Scene) -> None:
    path = f"/api/v1/checkpoints/{scene.checkpoint.id}/passages"
    cases: list[tuple[Any, dict[str, str], bytes | None, int]] = [
        (lambda: {**passage(scene.code), "decision": "maybe"}, scene.headers, None, 422),
        (lambda: {k: v for k, v in passage(scene.code).items() if k != "scanned_at"}, scene.headers, None, 422),
        (lambda: {**passage(scene.code), "extra": 1}, scene.headers, None, 422),
        (lambda: passage(scene.code), {"Authorization": "Bearer dct_not-a-token"}, None, 401),
        (lambda: passage(scene.code, decision="refuse"), scene.headers, None, 422),
    ]
    for make_body, headers, content, status in cases:
        fast, _ = await both(client, slow_client, path, make_body, headers, content)
        assert fast.status_code == status, fast.text
        assert fast.json()["error"] in ("validation_failed", "unauthenticated")
    missing, _ = await both(client, slow_client, "/api/v1/checkpoints/999999/passages", lambda: passage(scene.code),
                            scene.headers)
    assert missing.status_code == 404


async def test_scan_and_batch_answer_alike(client: httpx.AsyncClient, slow_client: httpx.AsyncClient,
                                           scene: Scene) -> None:
    base = f"/api/v1/checkpoints/{scene.checkpoint.id}"
    fast, _ = await both(client, slow_client, f"{base}/scan", lambda: {"code": scene.code}, scene.headers)
    assert fast.json()["verdict"] == "green"
    fast, _ = await both(client, slow_client, f"{base}/scan", lambda: {"code": ""}, scene.headers)
    assert fast.status_code == 422 and fast.json()["field"] == "code"
    fast, _ = await both(client, slow_client, f"{base}/passages:batch", lambda: {"items": []}, scene.headers)
    assert fast.status_code == 422 and fast.json()["field"] == "items"
    fast, _ = await both(client, slow_client, f"{base}/passages:batch",
                         lambda: {"items": [{"code": "x"}, passage("VNT1:garbage")]}, scene.headers)
    body = fast.json()
    assert fast.status_code == 200 and body["error"] == 1 and body["created"] == 1
    assert body["items"][1]["passage"]["verdict"] == "red"
