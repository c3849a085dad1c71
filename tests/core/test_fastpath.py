"""core.fastpath: matching, declining, body limits, error rendering, headers and the request id."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import BaseModel

from dancu.core.errors import NotFound
from dancu.core.fastpath import (
    DancuAPI,
    FastRequest,
    FastResponse,
    FastRoutes,
    bearer_json,
    json_response,
    model_response,
    route,
)


class Thing(BaseModel):
    name: str
    size: int


async def echo(request: FastRequest) -> FastResponse:
    thing = Thing.model_validate_json(request.body)
    if thing.name == "missing":
        raise NotFound("No such thing.", field="name")
    if thing.name == "boom":
        raise RuntimeError("a bug")
    return model_response(201, thing) if thing.size else json_response(200, {"id": int(request.params[0])})


def app() -> DancuAPI:
    a = DancuAPI()

    @a.post("/things/{thing_id}")
    async def slow(thing_id: int) -> dict[str, str]:
        return {"served_by": "fastapi"}

    a.fast_routes = FastRoutes([route("POST", "/things/{thing_id}", echo, accepts=bearer_json, max_body=100)])
    return a


@pytest.fixture
def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t")


AUTH = {"Authorization": "Bearer abc"}


async def test_matches_integer_parameters_and_answers_json(client: httpx.AsyncClient) -> None:
    r = await client.post("/things/42", json={"name": "a", "size": 0}, headers=AUTH)
    assert r.status_code == 200 and r.json() == {"id": 42}
    assert r.headers["content-type"] == "application/json" and r.headers["content-length"] == str(len(r.content))
    assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"
    r = await client.post("/things/7", json={"name": "Nguyễn", "size": 3}, headers={**AUTH, "X-Request-ID": "abc-1"})
    assert r.status_code == 201 and r.json() == {"name": "Nguyễn", "size": 3}
    assert r.headers["x-request-id"] == "abc-1"


async def test_declines_what_it_is_not_for(client: httpx.AsyncClient) -> None:
    # No bearer token, another content type, a path that is not an integer: FastAPI serves them.
    assert (await client.post("/things/1", json={"name": "a", "size": 1})).json() == {"served_by": "fastapi"}
    assert (await client.post("/things/1", content=b"a=1", headers={**AUTH, "Content-Type": "text/plain"})
            ).json() == {"served_by": "fastapi"}
    assert (await client.post("/things/x", json={}, headers=AUTH)).status_code == 422
    assert (await client.get("/things/1", headers=AUTH)).status_code == 405


async def test_errors_are_json_with_the_field(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    r = await client.post("/things/1", json={"name": "a"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["field"] == "size" and r.json()["error"] == "validation_failed"
    r = await client.post("/things/1", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "validation_failed"
    r = await client.post("/things/1", json={"name": "missing", "size": 1}, headers=AUTH)
    assert r.status_code == 404 and r.json() == {"error": "not_found", "message": "No such thing.", "field": "name"}
    with caplog.at_level(logging.ERROR, logger="dancu.http"):
        r = await client.post("/things/1", json={"name": "boom", "size": 1}, headers=AUTH)
    assert r.status_code == 500 and r.json()["error"] == "internal" and "a bug" not in r.text
    assert r.json()["request_id"] == r.headers["x-request-id"]
    assert any("unhandled error" in rec.message for rec in caplog.records)


async def test_body_limit(client: httpx.AsyncClient) -> None:
    r = await client.post("/things/1", json={"name": "a" * 200, "size": 1}, headers=AUTH)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_route_patterns() -> None:
    r = route("POST", "/api/v1/checkpoints/{checkpoint_id}/passages:batch", echo, accepts=bearer_json)
    assert r.pattern.fullmatch("/api/v1/checkpoints/12/passages:batch").groups() == ("12",)  # type: ignore[union-attr]
    for path in ("/api/v1/checkpoints/12/passages", "/api/v1/checkpoints/-1/passages:batch",
                 "/api/v1/checkpoints/1/passages:batchx", "/api/v1/checkpoints//passages:batch"):
        assert r.pattern.fullmatch(path) is None, path
    assert bearer_json({b"authorization": b"Bearer x"})
    assert bearer_json({b"authorization": b"bearer x", b"content-type": b"application/json; charset=utf-8"})
    assert not bearer_json({b"authorization": b"Basic x"})
    assert not bearer_json({b"authorization": b"Bearer x", b"content-type": b"multipart/form-data"})
