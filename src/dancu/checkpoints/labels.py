"""Unit names and provinces for codes, from the units domain's cached tree (it changes once in years)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.units.service import unit_tree


async def unit_info(session: AsyncSession, codes: Collection[str | None]) -> dict[str, tuple[str, str]]:
    """code -> (name, materialised path); unknown codes are left out (the units domain's cached tree)."""
    tree = await unit_tree(session)
    return {c: (tree[c].name, tree[c].path) for c in codes if c and c in tree}


def province_of(path: str | None) -> str:
    """The province code in a unit path ("VN/01/00004/" -> "01"); "" when unknown."""
    parts = (path or "").strip("/").split("/")
    return parts[1] if len(parts) > 1 else ""


def name_of(info: dict[str, tuple[str, str]], code: str | None) -> str | None:
    return info[code][0] if code and code in info else None
