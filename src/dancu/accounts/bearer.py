"""Bearer tokens on the hot API paths, answered without a database round trip most of the time.

A scanning device or a citizen's app sends many requests with the same token, so the token's account is
cached per app for `TTL_SECONDS`: a revoked token, an expired one or a deactivated account stops working
within that time on the routes that use this (the scanning device contract and online declarations);
every other route looks the token up on each request.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dancu.accounts import service
from dancu.accounts.permissions import Actor
from dancu.accounts.security import token_hash
from dancu.core.cache import TtlCache
from dancu.core.db import Database
from dancu.core.errors import Unauthenticated

TTL_SECONDS = 5.0


def token_cache(app: Any) -> TtlCache[str, Actor]:
    """The app's cache of token hash -> actor (created on first use)."""
    cache: TtlCache[str, Actor] | None = getattr(app.state, "bearer_tokens", None)
    if cache is None:
        cache = TtlCache(TTL_SECONDS)
        app.state.bearer_tokens = cache
    return cache


async def cached_actor(app: Any, token: str, ip: str, request_id: str | None) -> Actor:
    """The actor of a bearer token (cached); Unauthenticated when it is invalid, expired or revoked."""
    db: Database = app.state.db

    async def load() -> Actor:
        async with db.unit_of_work() as session:
            found = await service.actor_for_bearer(session, token, ip, request_id)
        if found is None:
            raise Unauthenticated("The bearer token is invalid, expired or revoked.")
        return found

    actor = await token_cache(app).get_or_load(token_hash(token), load)
    return replace(actor, ip=ip, request_id=request_id)


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer …` header value, else None."""
    if authorization[:7].lower() != "bearer ":
        return None
    return authorization[7:].strip() or None
