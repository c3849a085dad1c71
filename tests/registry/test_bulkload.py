"""The first load of an empty register (PostgreSQL) against the batch upsert, including its failures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import UniqueConstraint, text

from dancu.core.db import Database, utcnow
from dancu.registry import bulkload, reading
from dancu.registry.bulkload import FirstLoadFailed
from dancu.registry.importer import import_file
from dancu.registry.models import ImportJob, Person
from dancu.registry.validation import (
    PERSON_COLUMNS,
    ImportFileError,
    RowValidator,
)
from tests.registry.test_importer import counts, person, read_error_file, write_csv
from tests.registry.test_reading import HANOI, PG, pg_only


@pytest_asyncio.fixture
async def db(fresh_db: str) -> AsyncIterator[Database]:
    database = Database(fresh_db)
    yield database
    await database.dispose()


async def schema(db: Database) -> tuple[list[Any], list[Any], list[Any]]:
    """persons' indexes, every constraint on or referencing it and its column defaults, as PostgreSQL
    describes them (a first load sets defaults for status, created_at and updated_at while it COPYs)."""
    async with db.engine.connect() as conn:
        indexes = (await conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'persons' ORDER BY 1"))).all()
        constraints = (await conn.execute(text(
            "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
            "WHERE conrelid = 'persons'::regclass OR confrelid = 'persons'::regclass ORDER BY 1"))).all()
        defaults = (await conn.execute(text(
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a JOIN pg_attrdef d "
            "ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = 'persons'::regclass "
            "ORDER BY 1"))).all()
    return list(indexes), list(constraints), list(defaults)


async def stored(db: Database) -> list[tuple[Any, ...]]:
    columns = ", ".join((*PERSON_COLUMNS, "status"))
    async with db.engine.connect() as conn:
        return list((await conn.execute(text(f"SELECT {columns} FROM persons ORDER BY national_id"))).all())


async def empty_persons(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM persons"))


async def new_job(db: Database) -> int:
    async with db.unit_of_work() as s:
        job = ImportJob(filename="f.csv")
        s.add(job)
        await s.flush()
        return job.id


async def job_state(db: Database, job_id: int) -> tuple[Any, ...]:
    async with db.unit_of_work() as s:
        job = await s.get(ImportJob, job_id)
        assert job is not None
        return job.status, job.rows_imported, job.message or ""


def mixed_file(tmp_path: Path) -> Path:
    rows = [person(n) for n in range(1, 60)]
    rows[5]["dob"] = "31/02/1982"
    rows[9]["full_name"] = 'Trần "Tí", \\ Văn'
    rows[20] = dict(rows[3])  # a duplicate
    rows[30]["permanent_unit"] = "99999"
    return write_csv(tmp_path / "mixed.csv", rows)


@pg_only
async def test_a_first_load_stores_what_the_batch_upsert_stores(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    path, before, job_id = mixed_file(tmp_path), await schema(db), await new_job(db)
    progress: list[tuple[int, int]] = []

    def seen_from_outside(_: int, rows: int) -> None:  # another session sees the job row move on
        with psycopg.connect(db.url.replace("postgresql+asyncpg", "postgresql")) as conn:
            row = conn.execute("SELECT rows_read FROM import_jobs WHERE id = %s", (job_id,)).fetchone()
        progress.append((rows, row[0] if row else -1))

    first = await import_file(db, path, errors_path=tmp_path / "a.err.csv", batch_size=7, job_id=job_id,
                              progress=seen_from_outside)
    assert first.first_load and counts(first) == (59, 56, 0, 0, 3)
    assert [rows for rows, _ in progress] == [7, 14, 21, 28, 35, 42, 49, 56, 59, 59]  # per batch
    assert all(rows == seen for rows, seen in progress)  # while the load's transaction was still open
    assert await schema(db) == before  # every index and constraint rebuilt as it was
    by_bulk = await stored(db)
    async with db.engine.connect() as conn:
        stamps = (await conn.execute(text("SELECT min(created_at), max(updated_at), count(DISTINCT id) "
                                          "FROM persons"))).one()
    assert stamps[0] == stamps[1] and stamps[2] == 56
    assert abs((stamps[0] - utcnow()).total_seconds()) < 120  # the load's own time, as one value

    await empty_persons(db)
    upsert = await import_file(db, path, errors_path=tmp_path / "b.err.csv", batch_size=7, bulk=False)
    assert not upsert.first_load and counts(upsert) == counts(first)
    assert await stored(db) == by_bulk
    assert read_error_file(tmp_path / "b.err.csv") == read_error_file(tmp_path / "a.err.csv")

    await empty_persons(db)  # and read in chunks by worker threads, checked column-wise
    monkeypatch.setattr(reading, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(reading, "CHUNK_BYTES", 700)
    pooled = await import_file(db, path, errors_path=tmp_path / "c.err.csv", bulk=True, parallel=True)
    assert pooled.first_load and counts(pooled) == counts(first)
    assert await stored(db) == by_bulk
    assert read_error_file(tmp_path / "c.err.csv") == read_error_file(tmp_path / "a.err.csv")
    assert await schema(db) == before


@pg_only
async def test_a_failure_midway_leaves_the_register_empty_with_its_indexes(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, before, job_id = write_csv(tmp_path / "c.csv", [person(n) for n in range(1, 41)]), await schema(db), \
        await new_job(db)
    real_check, calls = RowValidator.check_fast, [0]

    def failing_check(self: RowValidator, values: Sequence[str]) -> Any:
        calls[0] += 1
        if calls[0] == 25:  # inside the third batch of 10: two are already COPYed
            raise RuntimeError("disk on fire")
        return real_check(self, values)

    monkeypatch.setattr(RowValidator, "check_fast", failing_check)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await import_file(db, path, errors_path=None, batch_size=10, job_id=job_id)
    assert await stored(db) == [] and await schema(db) == before
    status, imported, message = await job_state(db, job_id)
    assert (status, imported) == ("failed", 0) and "rolled back, nothing was imported" in message


@pg_only
@pytest.mark.parametrize(("column", "value", "error"), [
    (7, "NOPE1", r"rolled back, nothing was imported: rebuilding fk_persons_permanent_unit_code_units"),
    (0, "0010800000999", r"(?i)value too long"),  # refused by the COPY itself, in the third batch
])
async def test_a_row_the_database_refuses_rolls_the_whole_load_back(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, column: int, value: str, error: str
) -> None:
    path, before, job_id = write_csv(tmp_path / "c.csv", [person(n) for n in range(1, 41)]), await schema(db), \
        await new_job(db)
    real_check = RowValidator.check_fast

    def check_then_corrupt(self: RowValidator, values: Sequence[str]) -> Any:
        result = real_check(self, values)
        if values[0] == person(25)["id"]:  # slip a bad value past validation
            result = (*result[:column], value, *result[column + 1:])
        return result

    monkeypatch.setattr(RowValidator, "check_fast", check_then_corrupt)
    with pytest.raises(Exception, match=error) as err:
        await import_file(db, path, errors_path=None, batch_size=10, job_id=job_id)
    assert column != 7 or isinstance(err.value, FirstLoadFailed)
    assert await stored(db) == [] and await schema(db) == before
    status, imported, message = await job_state(db, job_id)
    assert (status, imported) == ("failed", 0) and "rolled back" in message


@pg_only
async def test_a_register_with_rows_gets_the_batch_upsert(db: Database, tmp_path: Path) -> None:
    await import_file(db, write_csv(tmp_path / "one.csv", [person(1)]), errors_path=None, bulk=False)
    path = write_csv(tmp_path / "more.csv", [person(n) for n in range(1, 6)])
    summary = await import_file(db, path, errors_path=None)
    assert not summary.first_load and counts(summary) == (5, 4, 0, 1, 0)
    with pytest.raises(ImportFileError, match="needs an empty register"):
        await import_file(db, path, errors_path=None, bulk=True)


@pg_only
async def test_emptiness_is_checked_again_under_the_lock(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await import_file(db, write_csv(tmp_path / "one.csv", [person(1)]), errors_path=None, bulk=False)
    real_is_empty, looks = bulkload._is_empty, [0]

    async def empty_at_first_look(pg: Any) -> bool:  # another import commits between the look and the lock
        looks[0] += 1
        return True if looks[0] == 1 else await real_is_empty(pg)

    monkeypatch.setattr(bulkload, "_is_empty", empty_at_first_look)
    summary = await import_file(db, write_csv(tmp_path / "two.csv", [person(1), person(2)]), errors_path=None)
    assert looks[0] == 2 and not summary.first_load and counts(summary) == (2, 1, 0, 1, 0)


@pg_only
async def test_an_import_limited_to_a_jurisdiction_never_loads_in_bulk(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "hanoi.csv", [person(n) for n in range(1, 4)])
    summary = await import_file(db, path, errors_path=None, allowed_units=HANOI)
    assert not summary.first_load and counts(summary) == (3, 3, 0, 0, 0)
    await empty_persons(db)
    with pytest.raises(ImportFileError, match="not limited to a jurisdiction"):
        await import_file(db, path, errors_path=None, allowed_units=HANOI, bulk=True)


@pytest.mark.skipif(PG, reason="SQLite's")
async def test_sqlite_never_loads_in_bulk(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [person(1)])
    assert (await import_file(db, path, errors_path=None)).first_load is False
    with pytest.raises(ImportFileError, match="needs PostgreSQL"):
        await import_file(db, path, errors_path=None, bulk=True)


@pg_only
async def test_what_a_first_load_drops_is_read_from_the_catalog_and_matches_the_model(db: Database) -> None:
    table = Person.__table__
    expected = ({str(i.name) for i in table.indexes} | {str(fk.name) for fk in table.foreign_key_constraints}
                | {str(c.name) for c in table.constraints if isinstance(c, UniqueConstraint)})
    async with db.engine.connect() as conn:
        pg = (await conn.get_raw_connection()).driver_connection
        found = await bulkload.definitions(pg)
    assert {d.name for d in found} == expected and len(expected) == 8
    assert [d.step for d in found] == sorted(d.step for d in found)  # unique first, foreign keys last
    assert all(d.create_sql.startswith(("ALTER TABLE", "CREATE INDEX")) for d in found)


@pg_only
async def test_the_load_time_defaults_are_put_back_as_they_were(db: Database, tmp_path: Path) -> None:
    """A column that had a default of its own gets it back; the rows still got the load's values."""
    async with db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE persons ALTER COLUMN status SET DEFAULT 'deceased'"))
    before = await schema(db)
    assert ("status", "'deceased'::character varying") in before[2]
    path = write_csv(tmp_path / "d.csv", [person(n) for n in range(1, 6)])
    summary = await import_file(db, path, errors_path=None, bulk=True)
    assert summary.first_load and summary.imported == 5
    assert await schema(db) == before
    assert {row[-1] for row in await stored(db)} == {"alive"}
