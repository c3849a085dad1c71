"""Online declarations on the lean path (a citizen's app with a bearer token), against a database of its own:
real commits, and on PostgreSQL the lookups' autocommit session and the group-commit writer, as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from dancu.accounts.models import ApiToken
from dancu.accounts.permissions import Role
from dancu.accounts.schemas import TokenCreate
from dancu.accounts.service import actor_from, create_token
from dancu.app import create_app
from dancu.config import Settings
from dancu.core.db import Database, utcnow
from dancu.credentials.keyfiles import init_keys
from dancu.declarations.models import Declaration
from dancu.declarations.writer import shutdown as stop_writer
from dancu.registry.models import Person
from dancu.units.models import Unit
from tests.declarations.helpers import trip
from tests.factories import HANOI_COMMUNE, make_account, make_person


@asynccontextmanager
async def _served(url: str, settings: Settings) -> AsyncIterator[tuple[Database, FastAPI, httpx.AsyncClient]]:
    db = Database(url)
    app = create_app(settings, db=db)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver",
                                     cookies={"lang": "en"}) as client:
            yield db, app, client
    finally:
        await stop_writer(app)
        await db.dispose()


async def _citizen_token(db: Database, **person: object) -> tuple[int, int, str]:
    """A citizen with an account and a bearer token: (person id, token id, header value)."""
    async with db.unit_of_work() as s:
        p = await make_person(s, **person)
        account = await make_account(s, Role.CITIZEN, HANOI_COMMUNE, username=p.national_id, person=p)
        unit = await s.get(Unit, HANOI_COMMUNE)
        assert unit is not None
        token, plain = await create_token(s, actor_from(account, unit), TokenCreate(name="app"))
        return p.id, token.id, f"Bearer {plain}"


async def _count(db: Database, person_id: int) -> int:
    async with db.unit_of_work() as s:
        return int(await s.scalar(select(func.count()).select_from(Declaration)
                                  .where(Declaration.person_id == person_id)) or 0)


async def _last_used(db: Database, token_id: int) -> object:
    async with db.unit_of_work() as s:
        return await s.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))


async def test_bearer_declaration_is_stored_with_the_token_use(fresh_db: str, settings: Settings) -> None:
    init_keys(settings.keys_dir)  # (kept when the settings fixture made them)
    async with _served(fresh_db, settings) as (db, _app, client):
        person_id, token_id, auth = await _citizen_token(db, household_id="HK-FAST-1")
        async with db.unit_of_work() as s:
            payload = trip(await s.get_one(Person, person_id))
        assert await _last_used(db, token_id) is None
        before = utcnow()
        r = await client.post("/api/v1/declarations", json=payload, headers={"Authorization": auth})
        assert r.status_code == 201, r.text
        assert r.json()["pass_code"].startswith("VNT1:")
        assert await _count(db, person_id) == 1  # committed before the 201 was sent
        stamped = await _last_used(db, token_id)  # and the token's last use with it
        assert isinstance(stamped, datetime) and abs((stamped - before).total_seconds()) < 60
        # A second declaration within minutes does not stamp again (the stamp is coarse).
        again = await client.post("/api/v1/declarations", json={**payload, "destination_address": "7 Lê Lợi"},
                                  headers={"Authorization": auth})
        assert again.status_code == 201, again.text
        assert await _last_used(db, token_id) == stamped and await _count(db, person_id) == 2


async def test_bearer_declaration_errors_write_nothing(fresh_db: str, settings: Settings) -> None:
    init_keys(settings.keys_dir)  # (kept when the settings fixture made them)
    async with _served(fresh_db, settings) as (db, _app, client):
        person_id, _token_id, auth = await _citizen_token(db, household_id="HK-FAST-2")
        async with db.unit_of_work() as s:
            outsider = await make_person(s, household_id="HK-FAST-OTHER")
            me = await s.get_one(Person, person_id)
            mine, theirs = trip(me), trip(outsider)
        bad = await client.post("/api/v1/declarations", json=mine, headers={"Authorization": "Bearer dct_nope"})
        assert bad.status_code == 401 and bad.json()["error"] == "unauthenticated"
        wrong = await client.post("/api/v1/declarations", json={**mine, "travel_date": "soon"},
                                  headers={"Authorization": auth})
        assert wrong.status_code == 422 and wrong.json()["field"] == "travel_date"
        other = await client.post("/api/v1/declarations", json=theirs, headers={"Authorization": auth})
        assert other.status_code == 403 and other.json()["field"] == "national_id"
        assert await _count(db, person_id) == 0 and await _count(db, outsider.id) == 0
        ok = await client.post("/api/v1/declarations", json=mine, headers={"Authorization": auth})
        assert ok.status_code == 201, ok.text
        assert await _count(db, person_id) == 1
