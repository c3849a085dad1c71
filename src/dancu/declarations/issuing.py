"""Issuing a declaration: sign the 72-hour pass, store it, tell the communes, audit — in the request's
transaction, or (PostgreSQL, online declarations) through the group-commit writer."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor
from dancu.audit.service import Event, record_events
from dancu.config import get_settings
from dancu.core.db import database_key, detached, is_postgresql
from dancu.core.errors import Unavailable
from dancu.credentials.keys import Keyring
from dancu.credentials.travel_pass import TravelPassClaims, issue_travel_pass
from dancu.declarations import repository as repo
from dancu.declarations.models import Declaration
from dancu.declarations.schemas import DeclarationIn
from dancu.declarations.writer import DeclarationWriter, Issued, TokenUse
from dancu.notifications.service import Movement, notify_movements
from dancu.registry.models import Person


async def issue(
    session: AsyncSession, actor: Actor, person: Person, data: DeclarationIn, *, phone: str | None,
    plate: str | None, detail: str | None, source: Literal["online", "paper"], keyring: Keyring,
    now: datetime, writer: DeclarationWriter | None = None, token_use: TokenUse | None = None,
) -> Declaration:
    """Sign, store, notify and audit. With a `writer` (PostgreSQL group commit) the rows are written by it,
    in a transaction shared with other requests' declarations, and this returns once that committed."""
    keyring.signer_for("travel_pass")  # no signing key: refuse before anything is written
    issued = now.replace(microsecond=0)
    hours = get_settings().travel_pass_hours
    row: dict[str, Any] = {
        "person_id": person.id, "declared_by_id": actor.account_id if source == "online" else None,
        "source": source, "entered_by_id": actor.account_id if source == "paper" else None,
        "phone": phone or person.phone, "origin_unit_code": data.origin_unit_code,
        "origin_address": data.origin_address, "destination_unit_code": data.destination_unit_code,
        "destination_address": data.destination_address, "travel_date": data.travel_date,
        "return_date": data.return_date, "transport": data.transport, "vehicle_plate": plate,
        "transport_detail": detail, "purpose": data.purpose, "places_visited": data.places_visited,
        "symptoms": list(data.symptoms), "exposures": list(data.exposures), "attested": True,
        "status": "valid", "pass_id": secrets.token_urlsafe(12), "pass_code": "", "issued_at": issued,
        "expires_at": issued + timedelta(hours=hours), "revoked_at": None, "revoked_by_id": None,
        "revoke_reason": None, "created_at": now, "extra": None,
    }
    declaration: Declaration | None = None
    declaration_id = await _next_id(session)
    if declaration_id is None:  # SQLite: insert first, the id goes into the signed claims
        declaration = await repo.add(session, Declaration(**row))
        declaration_id = declaration.id
    row["id"] = declaration_id
    claims = TravelPassClaims.for_person(
        pass_id=row["pass_id"], declaration_id=str(declaration_id), full_name=person.full_name,
        national_id=person.national_id, birth_year=person.dob.year, origin=data.origin_unit_code,
        destination=data.destination_unit_code, vehicle_plate=plate,
    )
    row["pass_code"] = issue_travel_pass(claims, keyring=keyring, now=issued, hours=hours)
    movement = Movement(
        source="declaration", person_id=person.id, origin_unit_code=data.origin_unit_code,
        destination_unit_code=data.destination_unit_code, travel_date=data.travel_date,
        declaration_id=declaration_id,
    )
    event = Event(
        actor, "declaration:create", person_id=person.id, subject_type="declaration", subject_id=declaration_id,
        details={"source": source, "for_other": source == "online" and person.id != actor.person_id},
    )
    if writer is not None and declaration is None:
        [written] = await writer.submit([Issued(row, movement, event, token_use)], session)  # ends the request's reads
        if not written:
            raise Unavailable("The declaration could not be saved. Please send it again.")
        return detached(Declaration, row)  # for the reply: the writer committed the row itself
    if declaration is None:
        declaration = Declaration(**row)
        session.add(declaration)  # inserted by the notices' flush below
    else:
        declaration.pass_code = row["pass_code"]
    await notify_movements(session, [movement])
    # Last: the audit chain's lock is then held only until the caller's commit.
    await record_events(session, [event])
    return declaration


# Declaration ids reserved from the PostgreSQL sequence in blocks, per database: signing the pass needs the
# id, and taking it beforehand saves an UPDATE per declaration. (SQLite: insert first, then sign.)
ID_BLOCK = 50
_reserved: dict[str, list[int]] = {}


async def _next_id(session: AsyncSession) -> int | None:
    if not is_postgresql(session):
        return None
    free = _reserved.setdefault(database_key(session), [])
    if not free:
        free.extend(reversed(await repo.reserve_ids(session, ID_BLOCK)))
    return free.pop()
