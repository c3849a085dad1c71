"""`detached`: a mapped object from its column values, for reading, outside any session."""

from __future__ import annotations

from datetime import date

from sqlalchemy import inspect

from dancu.core.db import Database, detached
from dancu.registry.models import Person


def values(**over: object) -> dict[str, object]:
    row: dict[str, object] = {c.name: None for c in Person.__table__.columns}
    row.update(id=7, national_id="001090123456", full_name="Nguyễn Văn An", dob=date(1990, 5, 17), sex="M")
    row.update(over)
    return row


def test_it_reads_like_a_loaded_object_and_belongs_to_no_session() -> None:
    person = detached(Person, values())
    assert (person.id, person.national_id, person.dob, person.phone) == (7, "001090123456", date(1990, 5, 17), None)
    state = inspect(person)
    assert state.session is None and not state.pending and not state.persistent
    assert detached(Person, values(id=8)).id == 8 and person.id == 7  # no shared state


async def test_a_detached_object_is_not_flushed_by_a_session_that_reads_around_it(fresh_db: str) -> None:
    db = Database(fresh_db)
    try:
        async with db.unit_of_work() as session:
            person = detached(Person, values())
            assert await session.get(Person, person.id) is None
            assert person not in session and not session.new and not session.dirty
    finally:
        await db.dispose()
