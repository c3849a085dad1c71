"""Helpers for the declarations tests: actors for accounts, and a valid trip to start from."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.models import Account
from dancu.accounts.permissions import Actor, Role
from dancu.accounts.service import actor_from
from dancu.declarations.schemas import DeclarationIn
from dancu.declarations.service import local_today
from dancu.registry.models import Person
from dancu.units.models import Unit
from tests.factories import HANOI_COMMUNE, HANOI_COMMUNE_2

_serial = itertools.count(1)


async def actor(session: AsyncSession, role: Role, unit_code: str, person: Person | None = None) -> Actor:
    """An account (without a password: service tests never log in, and hashing is slow) and its actor."""
    name = person.national_id if role is Role.CITIZEN and person else f"decl.{role.value}.{next(_serial)}"
    account = Account(username=name, display_name=name, role=role, unit_code=unit_code,
                      person_id=person.id if person else None)
    session.add(account)
    await session.flush()
    unit = await session.get(Unit, unit_code)
    assert unit is not None
    return actor_from(account, unit)


def trip(person: Person | None = None, **overrides: Any) -> dict[str, Any]:
    """A declaration payload that passes every check (Ba Đình -> Ngọc Hà in Hà Nội, today, by motorbike)."""
    data: dict[str, Any] = {
        "national_id": person.national_id if person else "001090123456",
        "origin_unit_code": HANOI_COMMUNE, "origin_address": "12 Phố Huế",
        "destination_unit_code": HANOI_COMMUNE_2, "destination_address": "5 Hoàng Hoa Thám",
        "travel_date": local_today().isoformat(), "transport": "motorbike", "vehicle_plate": "29B1-234.56",
        "purpose": "Thăm gia đình", "symptoms": [], "exposures": [], "attested": True,
    }
    data.update(overrides)
    return data


def trip_in(person: Person | None = None, **overrides: Any) -> DeclarationIn:
    return DeclarationIn.model_validate(trip(person, **overrides))


def days(n: int) -> str:
    return str((local_today() + timedelta(days=n)).isoformat())


def paper(person: Person, **overrides: Any) -> dict[str, Any]:
    base = trip(person, full_name=person.full_name, dob=person.dob.isoformat())
    base.update(overrides)
    return base


def csrf_of(html: str) -> str:
    return str(html.split('name="csrf-token" content="')[1].split('"')[0])


async def page_csrf(client: httpx.AsyncClient, path: str = "/declarations") -> str:
    page = await client.get(path)
    return csrf_of(str(page.text))


def iso(d: date) -> str:
    return d.isoformat()
