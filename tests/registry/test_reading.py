"""Fast imports: `check_fast` against `check`, COPY text, and the parallel reader against the in-process one."""

from __future__ import annotations

import csv
import os
import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dancu.registry import reading
from dancu.registry.bulkload import copy_text
from dancu.registry.importer import _RowReader
from dancu.registry.seed import generate_people
from dancu.registry.validation import (
    COLUMNS,
    EXAMPLE_ROWS,
    PERSON_COLUMNS,
    RowValidator,
    as_import_row,
)
from dancu.units.loader import read_units
from tests.registry.test_importer import person, write_csv

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
        await conn.execute("CREATE TEMP TABLE t (" + ", ".join(f"{c} text" for c in PERSON_COLUMNS) + ", extra text)")
        await conn.copy_to_table("t", source=memoryview(copy_text(rows, "\tthe tail\n")), format="text")
        got = await conn.fetch("SELECT full_name, dob, old_id, extra FROM t")
    finally:
        await conn.close()
    assert [r["full_name"] for r in got] == values
    assert {(r["dob"], r["old_id"], r["extra"]) for r in got} == {(base[4].isoformat(), base[1], "the tail")}


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
