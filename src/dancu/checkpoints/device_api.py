"""The scanning-device contract on the lean path (`core.fastpath`): the same three routes as api.py, for
requests with a bearer token, answered by the same functions (device.py). Anything else — a browser's
cookie session — is left to the FastAPI routes in api.py, which also document the contract (OpenAPI)."""

from __future__ import annotations

from dancu.accounts.bearer import bearer_token, cached_actor
from dancu.accounts.permissions import Actor
from dancu.checkpoints import device
from dancu.checkpoints.schemas import BatchIn, PassageIn, ScanIn
from dancu.core.errors import Unauthenticated
from dancu.core.fastpath import FastRequest, FastResponse, bearer_json, json_response, model_response, route

PREFIX = "/api/v1/checkpoints/{checkpoint_id}"
# A batch of 1,000 items of at most ~7 kB of code each.
BATCH_BYTES = 8 * 1024 * 1024


async def _actor(request: FastRequest) -> Actor:
    token = bearer_token(request.header(b"authorization"))
    if token is None:
        raise Unauthenticated("Please log in.")
    return await cached_actor(request.app, token, request.client_ip, request.request_id)


async def scan(request: FastRequest) -> FastResponse:
    actor = await _actor(request)
    body = ScanIn.model_validate_json(request.body)
    return model_response(200, await device.scan_code(request.app, actor, int(request.params[0]), body.code))


async def passages(request: FastRequest) -> FastResponse:
    actor = await _actor(request)
    item = PassageIn.model_validate_json(request.body)
    status, body = await device.record_one(request.app, actor, int(request.params[0]), item)
    return json_response(status, body)


async def passages_batch(request: FastRequest) -> FastResponse:
    actor = await _actor(request)
    body = BatchIn.model_validate_json(request.body)
    return model_response(200, await device.record_many(request.app, actor, int(request.params[0]), body.items))


fast_routes = [
    route("POST", f"{PREFIX}/passages", passages, accepts=bearer_json),
    route("POST", f"{PREFIX}/scan", scan, accepts=bearer_json),
    route("POST", f"{PREFIX}/passages:batch", passages_batch, accepts=bearer_json, max_body=BATCH_BYTES),
]
