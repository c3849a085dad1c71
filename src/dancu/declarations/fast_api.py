"""Online declarations on the lean path (`core.fastpath`): POST /api/v1/declarations with a bearer token (a
citizen's app), answered by the same service function as the FastAPI route in api.py. A browser's
cookie session is left to FastAPI (api.py and pages.py)."""

from __future__ import annotations

from dancu.accounts.bearer import bearer_token, cached_actor
from dancu.accounts.permissions import Permission
from dancu.core.db import Database
from dancu.core.errors import Forbidden, Unauthenticated
from dancu.core.fastpath import FastRequest, FastResponse, bearer_json, model_response, route
from dancu.credentials.keys import get_keyring
from dancu.declarations import service
from dancu.declarations.schemas import DeclarationIn
from dancu.declarations.writer import TokenUse, get_writer


async def create(request: FastRequest) -> FastResponse:
    token = bearer_token(request.header(b"authorization"))
    if token is None:
        raise Unauthenticated("Please log in.")
    db: Database = request.app.state.db
    # Token and register check without a transaction of their own: on PostgreSQL the group-commit writer
    # stores the declaration; on SQLite this is the request's unit of work.
    writer = get_writer(request.app)
    used: list[TokenUse] = []  # the token's last-use stamp, when due: written by the writer with the row
    async with db.lookups() as session:
        actor = await cached_actor(request.app, token, request.client_ip, request.request_id, session,
                                   on_stamp=(lambda *use: used.append(use)) if writer is not None else None)
        if not actor.can(Permission.DECLARATIONS_CREATE):
            raise Forbidden("Your role does not allow this.")
        data = DeclarationIn.model_validate_json(request.body)
        out = await service.declare(session, actor, data, keyring=get_keyring(request.app.state.settings),
                                    writer=writer, token_use=used[0] if used else None)
    return model_response(201, out)


fast_routes = [route("POST", "/api/v1/declarations", create, accepts=bearer_json)]
