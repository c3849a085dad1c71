"""Checkpoint test set-up: real keys in the test's data dir, real signed passes, an officer at a checkpoint."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.models import Account
from dancu.accounts.permissions import Actor, Role
from dancu.accounts.schemas import TokenCreate
from dancu.accounts.service import create_token
from dancu.checkpoints.models import Checkpoint, CheckpointAssignment
from dancu.checkpoints.passages import Pending, prepare
from dancu.checkpoints.schemas import PassageIn
from dancu.config import Settings
from dancu.core.db import Database, utcnow
from dancu.credentials.keyfiles import init_keys
from dancu.credentials.keys import Keyring, get_keyring
from dancu.credentials.travel_pass import TravelPassClaims, issue_travel_pass
from dancu.declarations.models import Declaration
from dancu.registry.models import Person
from tests.factories import HANOI, HANOI_COMMUNE, actor_of, hcmc_commune, make_account, make_person

_serial = itertools.count(1)


@pytest.fixture
def keyring(settings: Settings) -> Keyring:
    """Real signing keys in the test's data dir (the app under test reads the same directory)."""
    assert init_keys(settings.keys_dir, now=utcnow() - timedelta(days=30))
    return get_keyring(settings)


async def bearer(session: AsyncSession, account: Account) -> dict[str, str]:
    _token, plain = await create_token(session, await actor_of(session, account), TokenCreate(name="device"))
    return {"Authorization": f"Bearer {plain}"}


async def make_checkpoint(
    session: AsyncSession,
    *,
    unit: str = HANOI_COMMUNE,
    name: str | None = None,
    active: bool = True,
    officers: tuple[Account, ...] = (),
) -> Checkpoint:
    checkpoint = Checkpoint(
        name=name or f"Trạm {next(_serial)}", unit_code=unit, kind="provincial_border", active=active
    )
    session.add(checkpoint)
    await session.flush()
    for officer in officers:
        session.add(CheckpointAssignment(checkpoint_id=checkpoint.id, account_id=officer.id))
    await session.flush()
    return checkpoint


async def make_declaration(
    session: AsyncSession,
    person: Person,
    keyring: Keyring,
    *,
    destination: str,
    origin: str | None = None,
    issued_at: datetime | None = None,
    hours: int = 72,
    status: str = "valid",
    plate: str | None = None,
) -> Declaration:
    """A declaration row with a real signed travel pass (as the declarations domain issues them)."""
    issued = (issued_at or utcnow()).replace(microsecond=0)
    origin = origin or person.current_unit_code
    declaration = Declaration(
        person_id=person.id,
        origin_unit_code=origin,
        origin_address="12 Phố Huế",
        destination_unit_code=destination,
        destination_address="1 Lê Lợi",
        travel_date=issued.date(),
        transport="private_car",
        vehicle_plate=plate,
        purpose="work",
        symptoms=[],
        exposures=[],
        attested=True,
        status=status,
        pass_id=uuid.uuid4().hex[:16],
        pass_code="",
        issued_at=issued,
        expires_at=issued + timedelta(hours=hours),
        revoked_at=issued if status == "revoked" else None,
    )
    session.add(declaration)
    await session.flush()
    claims = TravelPassClaims.for_person(
        pass_id=declaration.pass_id,
        declaration_id=str(declaration.id),
        full_name=person.full_name,
        national_id=person.national_id,
        birth_year=person.dob.year,
        origin=origin,
        destination=destination,
        vehicle_plate=plate,
    )
    declaration.pass_code = issue_travel_pass(claims, keyring=keyring, now=issued, hours=hours)
    await session.flush()
    return declaration


@dataclass
class Scene:
    official: Account
    officer: Account
    checkpoint: Checkpoint
    person: Person
    declaration: Declaration
    headers: dict[str, str]
    destination: str
    keyring: Keyring

    @property
    def code(self) -> str:
        return self.declaration.pass_code


@pytest_asyncio.fixture
async def scene(session: AsyncSession, keyring: Keyring) -> Scene:
    """An official of Hà Nội, an officer assigned to a checkpoint there, a traveller with a valid pass."""
    official = await make_account(session, Role.OFFICIAL, HANOI)
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE)
    checkpoint = await make_checkpoint(session, officers=(officer,))
    person = await make_person(session, full_name="Trần Thị Bình", dob=date(1991, 4, 2), sex="F")
    destination = await hcmc_commune(session)
    declaration = await make_declaration(session, person, keyring, destination=destination)
    return Scene(
        official, officer, checkpoint, person, declaration, await bearer(session, officer), destination, keyring
    )


def passage(code: str, **kw: Any) -> dict[str, Any]:
    """One passage submission as a device sends it."""
    body: dict[str, Any] = {
        "code": code,
        "decision": "confirm",
        "method": "camera",
        "direction": "in",
        "scanned_at": utcnow().isoformat(),
        "idempotency_key": uuid.uuid4().hex,
    }
    body.update(kw)
    return body


async def post_passage(
    client: httpx.AsyncClient, scene: Scene, body: dict[str, Any], checkpoint_id: int | None = None
) -> httpx.Response:
    cid = checkpoint_id or scene.checkpoint.id
    return await client.post(f"/api/v1/checkpoints/{cid}/passages", json=body, headers=scene.headers)


@dataclass
class Place:
    """An officer at a checkpoint in a database of its own (`fresh_db`), for tests that need real commits."""

    checkpoint_id: int
    destination: str
    actor: Actor
    keyring: Keyring


async def place_in(db: Database, settings: Settings) -> Place:
    """Keys in the settings' data dir, an officer assigned to a checkpoint in Hà Nội, a destination in HCMC."""
    assert init_keys(settings.keys_dir, now=utcnow() - timedelta(days=30))
    keyring = get_keyring(settings)
    async with db.unit_of_work() as s:
        officer = await make_account(s, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE)
        checkpoint = Checkpoint(name="Trạm 1", unit_code=HANOI_COMMUNE, kind="internal")
        s.add(checkpoint)
        await s.flush()
        s.add(CheckpointAssignment(checkpoint_id=checkpoint.id, account_id=officer.id))
        return Place(checkpoint.id, await hcmc_commune(s), await actor_of(s, officer), keyring)


async def pendings_at(db: Database, place: Place, n: int) -> list[Pending]:
    """n passages of new people's valid passes, checked and ready for a recorder."""
    async with db.unit_of_work() as s:
        codes = [(await make_declaration(s, await make_person(s), place.keyring, destination=place.destination))
                 .pass_code for _ in range(n)]
    return [prepare(PassageIn.model_validate(passage(c)), checkpoint_id=place.checkpoint_id, actor=place.actor,
                    keyring=place.keyring, now=utcnow()) for c in codes]
