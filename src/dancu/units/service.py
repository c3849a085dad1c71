"""Administrative units: loading the official tree and looking units up."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor
from dancu.core.db import database_key
from dancu.core.errors import NotFound
from dancu.core.text import fold
from dancu.units import repository as repo
from dancu.units.loader import read_id_provinces, read_units
from dancu.units.models import Unit


async def load_official_units(session: AsyncSession) -> int:
    """Insert or refresh the official unit tree and the ID-number province codes. Idempotent."""
    units = read_units()
    await repo.replace_all(session, units, read_id_provinces())
    _trees.clear()
    return len(units)


@dataclass(frozen=True, slots=True)
class Place:
    """A unit as the hot paths need it (names for pages and labels, parent and path for scoping)."""

    code: str
    name: str
    level: str
    parent_code: str | None
    path: str


TREE_CACHE_SECONDS = 600.0
_trees: dict[str, tuple[float, dict[str, Place]]] = {}  # per database URL: (loaded at, code -> Place)


async def unit_tree(session: AsyncSession) -> dict[str, Place]:
    """Every unit by code: reference data, cached per database for ten minutes and loaded in one query.
    The one in-process copy of the tree (declarations, checkpoint labels and notices use it)."""
    key = database_key(session)
    now = time.monotonic()
    hit = _trees.get(key)
    if hit is not None and now - hit[0] < TREE_CACHE_SECONDS and hit[1]:
        return hit[1]
    loaded = {r[0]: Place(*r) for r in await repo.all_units(session)}
    _trees[key] = (now, loaded)
    return loaded


async def get_unit(session: AsyncSession, code: str) -> Unit:
    unit = await repo.get(session, code)
    if unit is None:
        raise NotFound(f"Unknown unit code {code}.", field="unit_code")
    return unit


async def search_units(
    session: AsyncSession,
    actor: Actor | None,
    q: str,
    *,
    level: str | None = None,
    within: bool = False,
    limit: int = 20,
) -> Sequence[Unit]:
    """Unit picker: by code or by name without diacritics; `within` limits to the actor's subtree."""
    path = actor.unit_path if (within and actor is not None) else None
    return await repo.search(session, fold(q), within_path=path, level=level, limit=min(max(limit, 1), 100))


async def children(session: AsyncSession, code: str) -> Sequence[Unit]:
    return await repo.children(session, code)
