"""Plain helpers that create real rows for tests (no mocks)."""

from __future__ import annotations

import functools
import itertools
import re
from datetime import date
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.models import Account
from dancu.accounts.permissions import Actor, Role
from dancu.accounts.security import hash_password
from dancu.accounts.service import actor_from
from dancu.core.text import fold
from dancu.registry.idnumber import Sex, encode_id
from dancu.registry.models import Person
from dancu.units.models import Unit

PASSWORD = "correct-horse-battery"
_serial = itertools.count(100_001)

# Real units: Hà Nội (01) with its commune Phường Ba Đình (00004); TP Hồ Chí Minh (79) and one of its communes.
HANOI, HANOI_COMMUNE, HANOI_COMMUNE_2 = "01", "00004", "00008"
HCMC = "79"


async def hcmc_commune(session: AsyncSession) -> str:
    from sqlalchemy import select


    code = await session.scalar(select(Unit.code).where(Unit.parent_code == HCMC).order_by(Unit.code).limit(1))
    assert code
    return code


async def make_person(session: AsyncSession, **kw: Any) -> Person:
    dob: date = kw.pop("dob", date(1990, 5, 17))
    sex: Sex = kw.pop("sex", "M")
    province = kw.pop("birth_province", "001")
    unit = kw.pop("unit", HANOI_COMMUNE)
    name = kw.pop("full_name", "Nguyễn Văn An")
    person = Person(
        national_id=kw.pop("national_id", encode_id(province, dob, sex, next(_serial))),
        full_name=name,
        search_name=fold(name),
        dob=dob,
        sex=sex,
        birth_province=province,
        permanent_unit_code=kw.pop("permanent_unit", unit),
        permanent_address=kw.pop("permanent_address", "12 Phố Huế"),
        current_unit_code=unit,
        current_address=kw.pop("current_address", "12 Phố Huế"),
        **kw,
    )
    session.add(person)
    await session.flush()
    return person


async def make_account(
    session: AsyncSession,
    role: Role,
    unit_code: str = HANOI,
    *,
    username: str | None = None,
    person: Person | None = None,
) -> Account:
    name = username or f"{role.value}.{next(_serial)}"
    account = Account(
        username=name,
        display_name=name,
        password_hash=_password_hash(),
        role=role,
        unit_code=unit_code,
        person_id=person.id if person else None,
    )
    session.add(account)
    await session.flush()
    return account


@functools.cache
def _password_hash() -> str:
    """argon2 takes ~0.1 s: hash the shared test password once per process."""
    return hash_password(PASSWORD)


async def actor_of(session: AsyncSession, account: Account) -> Actor:
    unit = await session.get(Unit, account.unit_code)
    assert unit is not None
    return actor_from(account, unit)


async def form_token(client: httpx.AsyncClient, path: str = "/login") -> str:
    """The token of the log-in (or sign-up) form, as a browser gets it: from the page, with its cookie."""
    page = await client.get(path)
    pattern = 'action="' + re.escape(path) + r'">\s*<input type="hidden" name="csrf_token" value="([^"]+)"'
    found = re.search(pattern, page.text)
    assert found, page.text
    return found.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the page form; returns the CSRF token for later form posts."""
    r = await client.post("/login", data={"username": username, "password": password, "next": "/",
                                          "csrf_token": await form_token(client)})
    assert r.status_code == 303, r.text
    page = await client.get("/staff" if not username.isdigit() else "/me")
    marker = 'name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]
