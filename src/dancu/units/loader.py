"""Reads the official administrative units from the `vietnamadminunits` package (MIT licence).

The package ships an SQLite dataset of the 34 provinces and 3,321 communes in force since 1 July 2025;
we read only that file (never its address converter, which may call an online geocoder).
"""

from __future__ import annotations

import sqlite3
from importlib import resources

from dancu.core.text import fold
from dancu.units.id_provinces import ID_PROVINCES
from dancu.units.models import COUNTRY_CODE


def _dataset_path() -> str:
    return str(resources.files("vietnamadminunits").joinpath("data/dataset.db"))


def read_units() -> list[dict[str, object]]:
    """The unit tree as rows for the `units` table, ordered parents first."""
    conn = sqlite3.connect(f"file:{_dataset_path()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT provinceCode, province, provinceShort, wardCode, ward, wardShort FROM admin_units "
            "ORDER BY provinceCode, wardCode"
        ).fetchall()
    finally:
        conn.close()
    out: list[dict[str, object]] = [
        {
            "code": COUNTRY_CODE,
            "name": "Việt Nam",
            "short_name": "Việt Nam",
            "search_name": "viet nam",
            "level": "country",
            "parent_code": None,
            "path": f"{COUNTRY_CODE}/",
            "depth": 0,
        }
    ]
    provinces: dict[str, tuple[str, str]] = {}
    for pcode, pname, pshort, *_ in rows:
        provinces.setdefault(pcode, (pname, pshort))
    for pcode, (pname, pshort) in sorted(provinces.items()):
        out.append(
            {
                "code": pcode,
                "name": pname,
                "short_name": pshort,
                "search_name": fold(pname),
                "level": "province",
                "parent_code": COUNTRY_CODE,
                "path": f"{COUNTRY_CODE}/{pcode}/",
                "depth": 1,
            }
        )
    for pcode, pname, _pshort, wcode, wname, wshort in rows:
        out.append(
            {
                "code": wcode,
                "name": wname,
                "short_name": wshort,
                "search_name": fold(f"{wname} {pname}"),
                "level": "commune",
                "parent_code": pcode,
                "path": f"{COUNTRY_CODE}/{pcode}/{wcode}/",
                "depth": 2,
            }
        )
    return out


def read_id_provinces() -> list[dict[str, object]]:
    return [
        {"code": code, "name": name, "current_province_code": current}
        for code, (name, current) in sorted(ID_PROVINCES.items())
    ]
