"""core.inputs.NulGuard: NUL in a path, a query or a text body is the field's 422, before any route runs.

(On SQLite NUL would be stored; on PostgreSQL it fails the statement. The sweeps in tests/test_*_robustness.py
show that no route of the app answers it with a 500; this module pins what the guard itself answers.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Form
from pydantic import BaseModel

from dancu.app import install_error_handlers
from dancu.config import Settings
from dancu.core import inputs
from dancu.core.inputs import NulGuard, nul_in_json, nul_in_query

pytestmark = pytest.mark.asyncio(loop_scope="session")

CALLS: list[str] = []


class Item(BaseModel):
    code: str


class Batch(BaseModel):
    items: list[Item]


def build() -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(env="test", database_url="sqlite+aiosqlite:///unused.db", log_json=False)
    install_error_handlers(app)
    app.add_middleware(NulGuard, handlers=app.exception_handlers)

    @app.post("/api/v1/batch")
    async def batch(body: Batch) -> dict[str, Any]:
        CALLS.append("batch")
        return {"codes": [i.code for i in body.items]}

    @app.get("/api/v1/search")
    async def search(q: str = "") -> dict[str, Any]:
        CALLS.append("search")
        return {"q": q}

    @app.post("/form")
    async def form(name: Annotated[str, Form()] = "") -> dict[str, Any]:
        CALLS.append("form")
        return {"name": name}

    return app


@pytest_asyncio.fixture(loop_scope="session")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    CALLS.clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build()), base_url="https://t") as c:
        yield c


async def test_nul_in_a_nested_json_field_is_that_fields_422(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/batch", json={"items": [{"code": "ok"}, {"code": "a\x00b"}]})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "validation_failed"
    assert body["field"] == "items.1.code"
    assert body["details"] == [{"field": "items.1.code", "message": inputs.NUL_MESSAGE}]
    assert CALLS == []  # the route never ran


async def test_text_that_only_looks_like_an_escape_reaches_the_route(client: httpx.AsyncClient) -> None:
    # A backslash then "u0000" is the six characters, not NUL: the route gets it unchanged.
    r = await client.post("/api/v1/batch", json={"items": [{"code": "\\u0000"}]})
    assert r.status_code == 200, r.text
    assert r.json() == {"codes": ["\\u0000"]}


async def test_invalid_json_is_left_to_the_routes_own_validation(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/batch", content=b'{"items": ["\\u0000",',
                          headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"] == "validation_failed"
    assert "JSON" in r.json()["message"]


async def test_nul_in_a_query_parameter_names_it(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/search", params={"q": "Nguy\x00n"})
    assert r.status_code == 422
    assert r.json()["field"] == "q"
    ok = await client.get("/api/v1/search", params={"q": "Nguyễn"})
    assert ok.json() == {"q": "Nguyễn"}


async def test_nul_in_a_form_is_an_error_page_naming_the_field(client: httpx.AsyncClient) -> None:
    r = await client.post("/form", data={"name": "a\x00b"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "name" in r.text and "NUL" in r.text
    ok = await client.post("/form", data={"name": "Lê Văn Tám"})
    assert ok.json() == {"name": "Lê Văn Tám"}


async def test_a_text_body_past_the_limit_is_413(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_TEXT_BODY", 1000)
    r = await client.post("/api/v1/batch", json={"items": [{"code": "x" * 2000}]})
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"
    assert CALLS == []


async def test_locating_helpers() -> None:
    assert nul_in_json({"a": [1, {"b": "x"}], "c": {"d\x00": 1}}) == "c"
    assert nul_in_json(["ok", "n\x00"]) == "1"
    assert nul_in_json("\x00") == "body"
    assert nul_in_json({"a": "fine"}) is None
    assert nul_in_query("a=1&b=x%00y") == "b"
    assert nul_in_query("a=1") is None
