"""Fast imports: `check_fast` against `check`, COPY text, the parallel reader against the in-process one, and
the first load of an empty register (PostgreSQL) against the batch upsert, including its failures."""

from __future__ import annotations

import csv
import os
import unicodedata
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import UniqueConstraint, text

from dancu.core.db import Database
from dancu.registry import bulkload, reading
from dancu.registry.bulkload import FirstLoadFailed, copy_tail, copy_text
from dancu.registry.importer import _RowReader, import_file
from dancu.registry.models import ImportJob, Person
from dancu.registry.seed import generate_people
from dancu.registry.validation import (
    COLUMNS,
    EXAMPLE_ROWS,
    PERSON_COLUMNS,
    ImportFileError,
    RowValidator,
    as_import_row,
)
from dancu.units.loader import read_units
from tests.registry.test_importer import counts, person, read_error_file, write_csv

PG = os.environ.get("DANCU_TEST_DB", "sqlite") == "postgresql"
pg_only = pytest.mark.skipif(not PG, reason="the first load is PostgreSQL's (DANCU_TEST_DB=postgresql)")

TODAY = date(2025, 7, 1)
UNITS = read_units()
COMMUNES = frozenset(u["code"] for u in UNITS if u["level"] == "commune")
HANOI = frozenset(u["code"] for u in UNITS if str(u["path"]).startswith("VN/01/"))
_COMMUNE_ROWS = sorted((u["code"], u["name"], u["parent_code"] or "") for u in UNITS if u["level"] == "commune")
PEOPLE = [as_import_row(r) for r in generate_people(_COMMUNE_ROWS, 400, seed=7)] + [list(r) for r in EXAMPLE_ROWS]


# check_fast gives exactly what check gives.
TRICKY = [
    "", " ", "  x  ", "\u00a0", "x\u00a0y", "a  b", "Nguyễn  Văn", unicodedata.normalize("NFD", "Nguyễn Văn"),
    "A\tB", "A\nB", "A\rB", "x\x07", "An\u202egnauh", "\u2028", "\\", "a\\N", "0912 345 678", "+84912345678",
    "+84 91-234.5678", "０912345678", "091234567", "31/02/1990", "1990-05-17", "17/5/1990", " 1990-05-17 ",
    "2099-01-01", "1899-12-31", "1900-01-01", "2025-07-01", "2025-07-02", "1990/05/17", "١٩٩٠-05-17", "Nam",
    "nữ", "NỮ", unicodedata.normalize("NFD", "Nữ"), "M", "f", "X", "001", "079", "999", "101", "296", "00004",
    "25747", "99999", "4", "HK-01", "HK 01", "HK-ÂB", "012345678", "12345678a", "A" * 120, "A" * 121,
    "x" * 300, "x" * 301, "y" * 40, "y" * 41, "001090123456", "036192004321", "00109012345", "001190123456",
    "Ả\u0301", "ﬁ", "Ⅻ", "٣",
]
COLUMN_VALUES = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12),
                          st.text(alphabet="0123456789 -+/.", max_size=13))


@st.composite
def rows(draw: st.DrawFn) -> list[str]:
    row = list(draw(st.sampled_from(PEOPLE)))
    for column in draw(st.lists(st.integers(0, len(COLUMNS) - 1), max_size=4)):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            row[column] = f" {row[column]} "
        elif kind == 1:
            row[column] = draw(st.sampled_from(PEOPLE))[column]
        else:
            row[column] = draw(COLUMN_VALUES)
    return row


PLAIN = RowValidator(COMMUNES, today=TODAY)
LIMITED = RowValidator(COMMUNES, allowed=HANOI, today=TODAY)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows())
def test_check_fast_gives_what_check_gives(row: list[str]) -> None:
    for validator in (PLAIN, LIMITED):
        assert validator.check_fast(row) == validator.check(row)


def test_check_fast_takes_the_usual_rows_itself() -> None:
    fast = [PLAIN._usual(r) for r in PEOPLE]
    assert all(f is not None for f in fast)  # generated people are the common shape: no fallback to check
    assert fast == [PLAIN.check(r) for r in PEOPLE]
    rejected = [*PEOPLE[0][:3], "31/02/1990", *PEOPLE[0][4:]]
    assert PLAIN._usual(rejected) is None and PLAIN.check_fast(rejected) == PLAIN.check(rejected)


# COPY text.
def test_copy_text_escapes_only_what_needs_it() -> None:
    row = PLAIN.check(PEOPLE[0])
    assert not isinstance(row, list)
    line = copy_text([row, (row[0], None, *row[2:])], "|T\n").decode()
    first, second = line.splitlines(keepends=True)
    assert first == "\t".join(map(str, row)) + "|T\n"
    assert second.split("\t")[1] == "\\N" and second.count("\t") == 13  # NULL
    odd = (*row[:2], "a\\b\tc\nd\re", *row[3:])
    assert copy_text([odd], "\n").decode().split("\t")[2] == "a\\\\b\\tc\\nd\\re"
    assert copy_text([], "\n") == b""


@pg_only
async def test_copy_text_round_trips_through_postgresql(fresh_db: str) -> None:
    import asyncpg

    base = PLAIN.check(PEOPLE[1])
    assert not isinstance(base, list)
    values = ["plain", "back\\slash", "tab\there", "new\nline", "cr\rhere", "\\N", "\\.", "SQL'; --", "Ầ ố"]
    rows = [(*base[:2], v, v, *base[4:]) for v in values]
    conn = await asyncpg.connect(fresh_db.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("CREATE TEMP TABLE t (" + ", ".join(f"{c} text" for c in bulkload.COPY_COLUMNS) + ")")
        tail = copy_tail(datetime(2025, 7, 1, tzinfo=UTC))
        await conn.copy_to_table("t", source=memoryview(copy_text(rows, tail)), format="text")
        got = await conn.fetch("SELECT full_name, dob, old_id, status, created_at FROM t")
    finally:
        await conn.close()
    assert [r["full_name"] for r in got] == values
    assert {(r["dob"], r["old_id"], r["status"]) for r in got} == {(base[4].isoformat(), base[1], "alive")}
    assert got[0]["created_at"] == "2025-07-01 00:00:00+00:00"


# The parallel reader reads as the in-process reader does.
TAIL = "\tT\n"


def read_all(path: Path, errors: Path, parallel: bool) -> tuple[bytes, int, int, str]:
    """Every batch of a file read for a first load: (COPY data, rows read, rows rejected, error file)."""
    reader = _RowReader(reading.open_source(path), RowValidator(COMMUNES, today=TODAY), errors, 7)
    reader.encode = lambda rows: copy_text(rows, TAIL)
    assert reader.read_in_parallel(TAIL) == parallel
    data, read, rejected = [], 0, 0
    while (batch := reader.produce()) is not None:
        data.append(batch.copy)
        read, rejected = read + batch.read, rejected + batch.rejected
    reader.close(True)
    return b"".join(data), read, rejected, errors.read_text("utf-8-sig") if errors.exists() else ""


def messy_file(path: Path, kinds: Sequence[int], crlf: bool) -> Path:
    """Valid, invalid, duplicate and blank rows, quoted fields with commas, quotes and line breaks, and stray
    quotes in unquoted fields (which the chunk cutter miscounts)."""
    end = "\r\n" if crlf else "\n"
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, lineterminator=end)
        out.writerow(COLUMNS)
        for n, kind in enumerate(kinds):
            row = list(PEOPLE[n % len(PEOPLE)])
            if kind == 1:
                row[3] = "31/02/1990"
            elif kind == 2:
                row = list(PEOPLE[n // 2 % len(PEOPLE)])  # the ID of an earlier row: a duplicate if it was valid
            elif kind == 3:
                f.write(end if n % 2 else ",,,,,,,,,,,," + end)
                continue
            elif kind == 4:
                row[2] = 'Nguyễn, "Tí" Văn'
            elif kind == 5:
                row[7] = f"Số {n}\nphố Huế"  # a line break inside a quoted field (rejected: a control char)
            elif kind == 6:
                f.write(",".join(row).replace(row[2], row[2] + ' "Tí', 1) + end)  # a stray quote
                continue
            out.writerow(row)
    return path


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4, 5, 6]), min_size=1, max_size=150),
       chunk=st.integers(64, 3000), crlf=st.booleans())
def test_the_parallel_reader_reads_as_the_in_process_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         kinds: list[int], chunk: int, crlf: bool) -> None:
    path = messy_file(tmp_path / f"m{chunk}.csv", kinds, crlf)
    expected = read_all(path, tmp_path / "one.err.csv", parallel=False)
    with monkeypatch.context() as patch:
        patch.setattr(reading, "PARALLEL_MIN_BYTES", 0)
        patch.setattr(reading, "CHUNK_BYTES", chunk)
        assert read_all(path, tmp_path / "pool.err.csv", parallel=True) == expected


def test_a_stray_quote_sends_the_rest_of_the_file_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    path = messy_file(tmp_path / "q.csv", [0] * 40 + [6] + [0, 4, 5, 1] * 20, crlf=False)
    expected = read_all(path, tmp_path / "one.err.csv", parallel=False)
    monkeypatch.setattr(reading, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(reading, "CHUNK_BYTES", 500)
    with caplog.at_level("INFO", logger="dancu.registry.importer"):
        assert read_all(path, tmp_path / "pool.err.csv", parallel=True) == expected
    assert "reading on in-process from byte" in caplog.text
    assert expected[2] == 40 and "row 122: dob: 31/02/1990" in expected[3]  # rows after it, numbered right
    assert ' "Tí\t' in expected[0].decode()  # the stray quote is part of a name, as the csv module reads it


def test_small_files_xlsx_and_limited_imports_are_read_in_process(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from openpyxl import Workbook

    path = write_csv(tmp_path / "s.csv", [person(1)])
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.append(list(person(1).values()))
    workbook.save(tmp_path / "s.xlsx")

    def parallel(path: Path, validator: RowValidator) -> bool:
        reader = _RowReader(reading.open_source(path), validator, None, 10)
        try:
            return reader.read_in_parallel(TAIL)
        finally:
            reader.close(True)

    assert not parallel(path, PLAIN)  # smaller than PARALLEL_MIN_BYTES
    monkeypatch.setattr(reading, "PARALLEL_MIN_BYTES", 0)
    assert parallel(path, PLAIN)
    assert not parallel(tmp_path / "s.xlsx", PLAIN)
    assert not parallel(path, LIMITED)


# The first load (PostgreSQL).
@pytest_asyncio.fixture
async def db(fresh_db: str) -> AsyncIterator[Database]:
    database = Database(fresh_db)
    yield database
    await database.dispose()


async def schema(db: Database) -> tuple[list[Any], list[Any]]:
    """persons' indexes and every constraint on or referencing it, as PostgreSQL describes them."""
    async with db.engine.connect() as conn:
        indexes = (await conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'persons' ORDER BY 1"))).all()
        constraints = (await conn.execute(text(
            "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
            "WHERE conrelid = 'persons'::regclass OR confrelid = 'persons'::regclass ORDER BY 1"))).all()
    return list(indexes), list(constraints)


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

    await empty_persons(db)
    upsert = await import_file(db, path, errors_path=tmp_path / "b.err.csv", batch_size=7, bulk=False)
    assert not upsert.first_load and counts(upsert) == counts(first)
    assert await stored(db) == by_bulk
    assert read_error_file(tmp_path / "b.err.csv") == read_error_file(tmp_path / "a.err.csv")

    await empty_persons(db)  # and read by the process pool
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
