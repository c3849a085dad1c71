"""Group commit of declarations (PostgreSQL): stored with their notices and audit events; a bad item fails alone."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.audit.models import AuditEvent
from dancu.audit.service import verify_chain
from dancu.credentials.keys import Keyring
from dancu.credentials.scan import scan
from dancu.declarations import service
from dancu.declarations.models import Declaration
from dancu.declarations.writer import DeclarationWriter, Issued
from dancu.notifications.models import Notice
from tests.declarations.helpers import actor, trip_in
from tests.factories import HANOI_COMMUNE, hcmc_commune, make_person
from tests.support import TestDatabase


@pytest.fixture
def writer(database: TestDatabase) -> DeclarationWriter:
    if database.is_sqlite:
        pytest.skip("SQLite writes declarations in the request's transaction: no group commit")
    return DeclarationWriter(database)


def capturing(writer: DeclarationWriter, seen: list[Issued]) -> DeclarationWriter:
    """A writer on the same database that also keeps what it was handed in `seen`."""

    class Capture(DeclarationWriter):
        async def submit(self, items, session=None):  # type: ignore[no-untyped-def]
            seen.extend(items)
            return await super().submit(items, session)

    return Capture(writer.db)


async def test_declarations_are_stored_by_the_writer_with_notices_and_audit(
    session: AsyncSession, keyring: Keyring, writer: DeclarationWriter
) -> None:
    hcm = await hcmc_commune(session)
    people = [await make_person(session, full_name=f"Lê Văn Khách {i}") for i in range(3)]
    made = []
    for person in people:
        citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
        made.append(await service.create_declaration(
            session, citizen, trip_in(person, destination_unit_code=hcm), keyring=keyring, writer=writer))
    assert writer.items == 3
    for decl, person in zip(made, people, strict=True):
        assert scan(decl.pass_code, keyring=keyring).payload["declaration_id"] == str(decl.id)
        stored = await session.get(Declaration, decl.id)
        assert stored is not None and stored.person_id == person.id and stored.pass_code == decl.pass_code
        kinds = (await session.scalars(select(Notice.kind).where(Notice.declaration_id == decl.id))).all()
        assert sorted(kinds) == ["arrival", "departure"]
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "declaration:create",
                                                              AuditEvent.subject_id == str(decl.id)))
        assert event is not None and event.person_id == person.id
    assert (await verify_chain(session)).ok


async def test_a_batch_with_a_bad_declaration_writes_the_others(
    session: AsyncSession, keyring: Keyring, writer: DeclarationWriter
) -> None:
    person = await make_person(session, full_name="Trần Thị Đúng")
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    seen: list[Issued] = []
    capture = capturing(writer, seen)
    good = await service.create_declaration(session, citizen, trip_in(person), keyring=keyring, writer=capture)
    [issued] = seen
    # Another declaration whose person does not exist: its insert violates a foreign key.
    row = {**issued.row, "id": issued.row["id"] + 100_000, "pass_id": "bad-pass", "person_id": 987_654_321}
    bad = dataclasses.replace(issued, row=row, movement=dataclasses.replace(issued.movement, declaration_id=row["id"]))
    again = {**issued.row, "id": issued.row["id"] + 200_000, "pass_id": "good-again"}
    ok = dataclasses.replace(issued, row=again,
                             movement=dataclasses.replace(issued.movement, declaration_id=again["id"]))
    assert await writer.submit([bad, ok]) == [False, True]
    ids = set((await session.scalars(select(Declaration.id).where(Declaration.person_id == person.id))).all())
    assert ids == {good.id, again["id"]}
    bad_rows = select(func.count()).select_from(Declaration).where(Declaration.pass_id == "bad-pass")
    assert await session.scalar(bad_rows) == 0


async def test_a_batch_is_stored_column_for_column_as_handed_to_the_writer(
    session: AsyncSession, keyring: Keyring, writer: DeclarationWriter
) -> None:
    """Several declarations in one batch (PostgreSQL: one statement with their notices and audit events):
    every column as it was handed over, each notice on its own declaration and unit, the chain intact."""
    hcm = await hcmc_commune(session)
    seen: list[Issued] = []
    capture = capturing(writer, seen)
    for i in range(3):
        person = await make_person(session, full_name=f"Phạm Thị Lô {i}")
        citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
        await service.create_declaration(session, citizen, trip_in(person, destination_unit_code=hcm),
                                         keyring=keyring, writer=capture)
    rows = []
    for n, issued in enumerate(seen):  # the same three again, as one batch, under new ids
        row = {**issued.row, "id": issued.row["id"] + 300_000 + n, "pass_id": f"batch-{n}",
               "symptoms": ["cough", "fever"][: n], "places_visited": None if n else "Chợ Bến Thành"}
        rows.append(dataclasses.replace(issued, row=row, movement=dataclasses.replace(
            issued.movement, declaration_id=row["id"])))
    assert await writer.submit(rows) == [True, True, True]
    for issued in rows:
        stored = await session.get(Declaration, issued.row["id"])
        assert stored is not None
        assert {c: getattr(stored, c) for c in issued.row} == issued.row
        notices = (await session.execute(select(Notice.kind, Notice.unit_code)
                                         .where(Notice.declaration_id == issued.row["id"]))).all()
        assert sorted(notices) == [("arrival", hcm), ("departure", issued.row["origin_unit_code"])]
    assert (await verify_chain(session)).ok
