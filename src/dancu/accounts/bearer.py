"""Bearer tokens on the hot API paths, answered without a database round trip most of the time.

A scanning device or a citizen's app sends many requests with the same token, so the token's account is
cached per app for `TTL_SECONDS`: a revoked token, an expired one or a deactivated account stops working
within that time on the routes that use this (the scanning device contract and online declarations);
every other route looks the token up on each request.

A token's last use is a coarse stamp (at most one write per token per few minutes, shown on the token
list), written in the transaction that looked the token up — or, for a lookup in an autocommit session
(`Database.lookups`), handed to the caller (`on_stamp`) to be written with its group-committed rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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


async def cached_actor(
    app: Any, token: str, ip: str, request_id: str | None, session: AsyncSession | None = None,
    on_stamp: Callable[[int, datetime], None] | None = None,
) -> Actor:
    """The actor of a bearer token (cached); Unauthenticated when it is invalid, expired or revoked. A miss
    is looked up in `session` when given (the request's own), else in a transaction of its own. A due
    last-use stamp is written in that session, or given to `on_stamp` (token id, time) when set."""
    db: Database = app.state.db
    cache = token_cache(app)
    key = token_hash(token)

    async def lookup(s: AsyncSession) -> Actor:
        found = await service.actor_for_bearer(s, token, ip, request_id, on_stamp)
        if found is None:
            raise Unauthenticated("The bearer token is invalid, expired or revoked.")
        return found

    async def load() -> Actor:
        async with db.unit_of_work() as s:
            return await lookup(s)

    if session is None:
        actor = await cache.get_or_load(key, load)
    elif (hit := cache.get(key)) is not None:
        actor = hit
    else:
        actor = await lookup(session)
        cache.put(key, actor)
    return replace(actor, ip=ip, request_id=request_id)


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer …` header value, else None."""
    if authorization[:7].lower() != "bearer ":
        return None
    return authorization[7:].strip() or None
