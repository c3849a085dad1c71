"""Who may scan where, answered without a database round trip on the hot path.

A scanning device sends thousands of requests with the same bearer token to the same checkpoint, so two
answers are cached per app for a few seconds: the token's account (`accounts.bearer`: a revoked token or
deactivated account stops working within its TTL) and the officer's assignment to the checkpoint (an
unassignment or deactivation likewise takes effect within `TTL_SECONDS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.bearer import bearer_token, cached_actor
from dancu.accounts.deps import client_ip, optional_actor
from dancu.accounts.permissions import Actor, Permission
from dancu.audit.service import record_event
from dancu.checkpoints import repository as repo
from dancu.checkpoints.models import Checkpoint
from dancu.core.cache import TtlCache
from dancu.core.db import Database
from dancu.core.errors import Forbidden, NotFound, Unauthenticated

TTL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CheckpointRef:
    id: int
    name: str
    unit_code: str
    kind: str
    active: bool


class AccessCache:
    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.assignments: TtlCache[tuple[int, int], tuple[CheckpointRef | None, bool]] = TtlCache(ttl)

    async def checkpoint_for(
        self, db: Database, actor: Actor, checkpoint_id: int, session: AsyncSession | None = None
    ) -> CheckpointRef:
        """The checkpoint this officer scans at; NotFound, or Forbidden when not assigned or inactive.

        Pass the request's `session` when it already has one (SQLite allows one writer at a time)."""
        if not actor.can(Permission.PASSAGES_RECORD):
            raise Forbidden("Your role does not allow scanning at checkpoints.")

        async def load() -> tuple[CheckpointRef | None, bool]:
            if session is not None:
                found = await self._look_up(session, actor, checkpoint_id)
            else:
                async with db.unit_of_work() as own:
                    found = await self._look_up(own, actor, checkpoint_id)
            if found is None:
                return None, False
            cp = found[0]
            return CheckpointRef(cp.id, cp.name, cp.unit_code, cp.kind, cp.active), found[1]

        cached = await self.assignments.get_or_load((checkpoint_id, actor.account_id), load)
        ref, assigned = cached
        if ref is None:
            raise NotFound("No such checkpoint.")
        if not assigned:
            raise Forbidden("You are not assigned to this checkpoint.")
        if not ref.active:
            raise Forbidden("This checkpoint is not active.")
        return ref

    @staticmethod
    async def _look_up(session: AsyncSession, actor: Actor, checkpoint_id: int) -> tuple[Checkpoint, bool] | None:
        found = await repo.checkpoint_for_officer(session, checkpoint_id, actor.account_id)
        if found is not None and not found[1]:
            await record_event(
                session,
                actor,
                "checkpoint:scan",
                subject_type="checkpoint",
                subject_id=checkpoint_id,
                outcome="denied",
            )
        return found

    def forget(self) -> None:
        """Drop the cached assignments (after this process changed one)."""
        self.assignments.clear()


def access_cache(app: FastAPI) -> AccessCache:
    cache: AccessCache | None = getattr(app.state, "checkpoint_access", None)
    if cache is None:
        cache = AccessCache()
        app.state.checkpoint_access = cache
    return cache


async def scanner_actor(request: Request) -> Actor:
    """The current actor for the scanning API: a bearer token (cached, `accounts.bearer`) or a web session."""
    app: FastAPI = request.app
    token = bearer_token(request.headers.get("authorization", ""))
    if token is None:
        async with app.state.db.unit_of_work() as session:
            found = await optional_actor(request, session)
        if found is None:
            raise Unauthenticated("Please log in.")
        return found
    actor = await cached_actor(app, token, client_ip(request), getattr(request.state, "request_id", None))
    request.state.actor = actor
    return actor


ScannerActor = Annotated[Actor, Depends(scanner_actor)]
