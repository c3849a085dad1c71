"""Administrative units: loading the official tree and looking units up."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor
from dancu.core.errors import NotFound
from dancu.core.text import fold
from dancu.units import repository as repo
from dancu.units.loader import read_id_provinces, read_units
from dancu.units.models import Unit


async def load_official_units(session: AsyncSession) -> int:
    """Insert or refresh the official unit tree and the ID-number province codes. Idempotent."""
    units = read_units()
    await repo.replace_all(session, units, read_id_provinces())
    return len(units)


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
