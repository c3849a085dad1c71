"""Unit names and provinces for codes, cached per process (the unit tree changes once in years)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.checkpoints import repository as repo

_MAX = 20_000
_cache: dict[str, tuple[str, str]] = {}


async def unit_info(session: AsyncSession, codes: Collection[str | None]) -> dict[str, tuple[str, str]]:
    """code -> (name, materialised path); unknown codes are left out."""
    wanted = {c for c in codes if c}
    missing = wanted - _cache.keys()
    if missing:
        # The first time, load the whole tree (a few thousand short rows): later batches need no query.
        found = await repo.unit_labels(session, None if not _cache else missing)
        if len(_cache) + len(found) > _MAX:
            _cache.clear()
        _cache.update(found)
    return {c: _cache[c] for c in wanted if c in _cache}


def province_of(path: str | None) -> str:
    """The province code in a unit path ("VN/01/00004/" -> "01"); "" when unknown."""
    parts = (path or "").strip("/").split("/")
    return parts[1] if len(parts) > 1 else ""


def name_of(info: dict[str, tuple[str, str]], code: str | None) -> str | None:
    return info[code][0] if code and code in info else None
