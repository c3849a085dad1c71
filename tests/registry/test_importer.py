"""Register import against real databases (SQLite and PostgreSQL via DANCU_TEST_DB): files in, rows out."""

from __future__ import annotations

import csv
import tracemalloc
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from dancu.core.db import Database
from dancu.registry import importer
from dancu.registry.idnumber import encode_id
from dancu.registry.importer import ImportSummary, import_file, write_template
from dancu.registry.models import ImportJob, Person
from dancu.registry.validation import COLUMNS, ImportFileError, RowValidator
from dancu.units.loader import read_units

SQL_BITS = "x'); DROP TABLE persons;-- \" % _ \\ /* */ ; OR '1'='1"


@pytest_asyncio.fixture
async def db(fresh_db: str) -> AsyncIterator[Database]:
    database = Database(fresh_db)
    yield database
    await database.dispose()


def person(n: int, **changes: str) -> dict[str, str]:
    """A valid import row; `n` makes the ID (and the name) unique."""
    dob = date(1980 + n % 30, 1 + n % 12, 1 + n % 28)
    row = {"id": encode_id("001", dob, "M", n), "old_id": "", "full_name": f"Nguyễn Văn {n}",
           "dob": dob.isoformat(), "sex": "Nam", "birth_province": "", "permanent_unit": "00004",
           "permanent_address": f"Số {n} phố Huế", "current_unit": "", "current_address": "",
           "household_id": f"HK-{n}", "household_relation": "Chủ hộ", "phone": ""}
    return {**row, **changes}


def write_csv(path: Path, rows: Sequence[dict[str, str]], header: Sequence[str] = COLUMNS,
              encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        out = csv.writer(f, delimiter=delimiter)
        out.writerow(header)
        out.writerows([r.get(c, "") for c in header] for r in rows)
    return path


def read_error_file(path: Path) -> list[dict[str, str]]:
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "the error file starts with a BOM (for Excel)"
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


async def people(db: Database) -> dict[str, Person]:
    async with db.unit_of_work() as s:
        return {p.national_id: p for p in (await s.scalars(select(Person))).all()}


async def count(db: Database) -> int:
    async with db.unit_of_work() as s:
        return await s.scalar(select(func.count()).select_from(Person)) or 0


def counts(s: ImportSummary) -> tuple[int, int, int, int, int]:
    return s.read, s.imported, s.updated, s.unchanged, s.rejected


async def test_rejected_rows_go_to_an_error_file_to_fix_and_import(db: Database, tmp_path: Path) -> None:
    rows = [person(1), person(2, dob="31/02/1982"), person(3), person(4, permanent_unit="99999", sex="X"),
            person(5, full_name="Bad\x07Name")]
    errors = tmp_path / "people.errors.csv"
    summary = await import_file(db, write_csv(tmp_path / "people.csv", rows), errors_path=errors)
    assert counts(summary) == (5, 2, 0, 0, 3)
    assert summary.error_file == errors
    rejected = read_error_file(errors)
    assert list(rejected[0]) == [*COLUMNS, "error"]
    assert [r["id"] for r in rejected] == [rows[1]["id"], rows[3]["id"], rows[4]["id"]]
    assert rejected[0]["error"] == "row 3: dob: 31/02/1982 is not a real date"
    assert rejected[1]["error"].startswith("row 5: sex: X is not Nam or Nữ; permanent_unit: 99999 is not")
    assert rejected[2]["dob"] == rows[4]["dob"]  # the row as it was, to be fixed in place
    # Fix the rows in the error file itself (its error column is ignored) and import it again.
    rejected[0]["dob"] = "28/02/1982"
    rejected[1].update(permanent_unit="25747", sex="Nam")
    rejected[2]["full_name"] = "Good Name"
    fixed = write_csv(tmp_path / "fixed.csv", rejected, header=[*COLUMNS, "error"])
    again = await import_file(db, fixed, errors_path=tmp_path / "fixed.errors.csv")
    assert counts(again) == (3, 3, 0, 0, 0)
    assert again.error_file is None and not (tmp_path / "fixed.errors.csv").exists()
    stored = await people(db)
    assert len(stored) == 5
    assert stored[rows[1]["id"]].dob == date(1982, 2, 28)
    assert stored[rows[3]["id"]].permanent_unit_code == "25747"


async def test_reimport_is_idempotent_and_counts_new_updated_unchanged(db: Database, tmp_path: Path) -> None:
    rows = [person(n) for n in range(1, 8)]
    path = write_csv(tmp_path / "p.csv", rows)
    assert counts(await import_file(db, path, errors_path=None, batch_size=3)) == (7, 7, 0, 0, 0)
    before = await people(db)
    assert counts(await import_file(db, path, errors_path=None, batch_size=3)) == (7, 0, 0, 7, 0)
    rows[2]["permanent_address"] = "Số 99 phố Huế"
    rows.append(person(8))
    summary = await import_file(db, write_csv(path, rows), errors_path=None, batch_size=3)
    assert counts(summary) == (8, 1, 1, 6, 0) and summary.existing == 7
    after = await people(db)
    assert len(after) == 8
    changed = after[rows[2]["id"]]
    assert changed.permanent_address == changed.current_address == "Số 99 phố Huế"
    assert changed.id == before[rows[2]["id"]].id and changed.created_at == before[rows[2]["id"]].created_at
    assert changed.updated_at > before[rows[2]["id"]].updated_at
    assert after[rows[0]["id"]].updated_at == before[rows[0]["id"]].updated_at  # untouched


@pytest.mark.parametrize("batch_size", [100, 2])
async def test_duplicate_ids_in_a_file_first_wins(db: Database, tmp_path: Path, batch_size: int) -> None:
    first, other = person(1, full_name="Trần Thị Đầu"), person(2)
    later = {**first, "full_name": "Trần Thị Sau"}
    summary = await import_file(db, write_csv(tmp_path / "d.csv", [first, other, later, dict(later)]),
                                errors_path=tmp_path / "d.err.csv", batch_size=batch_size)
    assert counts(summary) == (4, 2, 0, 0, 2)
    assert (await people(db))[first["id"]].full_name == "Trần Thị Đầu"
    errors = [r["error"] for r in read_error_file(tmp_path / "d.err.csv")]
    assert errors == ["row 4: id: duplicate of row 2 (the first one is kept)",
                      "row 5: id: duplicate of row 2 (the first one is kept)"]


async def test_a_rejected_row_does_not_block_a_later_valid_one(db: Database, tmp_path: Path) -> None:
    bad, good = person(1, dob="1990-13-01"), person(1)
    summary = await import_file(db, write_csv(tmp_path / "d.csv", [bad, good]), errors_path=None)
    assert counts(summary) == (2, 1, 0, 0, 1)


async def test_sql_metacharacters_in_every_field_are_stored_verbatim(db: Database, tmp_path: Path) -> None:
    text_row = person(1, full_name=SQL_BITS, permanent_address=SQL_BITS, current_unit="25747",
                      current_address="'; DELETE FROM persons; --", household_relation="Con' OR 1=1 --")
    code_rows = [person(10 + i, **{column: "1' OR '1'='1"}) for i, column in enumerate(
        ("id", "old_id", "dob", "sex", "birth_province", "permanent_unit", "phone", "household_id"))]
    html = person(2, full_name="<script>alert('x')</script>")
    summary = await import_file(db, write_csv(tmp_path / "s.csv", [text_row, *code_rows, html]),
                                errors_path=tmp_path / "s.err.csv")
    assert counts(summary) == (10, 2, 0, 0, 8)
    stored = await people(db)
    assert set(stored) == {text_row["id"], html["id"]}
    p = stored[text_row["id"]]
    assert (p.full_name, p.permanent_address, p.current_address, p.household_relation) == (
        SQL_BITS, SQL_BITS, "'; DELETE FROM persons; --", "Con' OR 1=1 --")
    assert stored[html["id"]].full_name == "<script>alert('x')</script>"
    assert [r["error"].split(": ")[1] for r in read_error_file(tmp_path / "s.err.csv")] == [
        "id", "old_id", "dob", "sex", "birth_province", "permanent_unit", "phone", "household_id"]


@pytest.mark.parametrize(
    ("encoding", "content", "fragments"),
    [
        ("latin-1", "José Müller", ["not UTF-8", "byte 0xE9 at offset"]),
        ("cp1258", "Lê Văn Ân", ["not UTF-8", "byte 0xEA at offset"]),
        ("utf-16", "Nguyễn Văn An", ["UTF-16"]),
        ("utf-16-le", "Nguyễn Văn An", ["NUL byte at offset 1"]),
    ],
)
async def test_a_file_not_in_utf8_is_refused_as_a_whole(db: Database, tmp_path: Path, encoding: str,
                                                         content: str, fragments: list[str]) -> None:
    ascii_rows = [person(n, full_name=f"Nguyen Van {n}", permanent_address="12 Hue",
                         household_relation="Con") for n in range(1, 5)]
    fifth = person(5)
    rows = [*ascii_rows, {**ascii_rows[0], "id": fifth["id"], "dob": fifth["dob"], "full_name": content}]
    path = write_csv(tmp_path / "enc.csv", rows, encoding=encoding)
    with pytest.raises(ImportFileError) as err:
        await import_file(db, path, errors_path=tmp_path / "enc.err.csv", batch_size=2)
    for fragment in fragments:
        assert fragment in err.value.message
    assert await count(db) == 0  # refused before any batch, although the bad bytes come late


async def test_the_offset_of_a_bad_byte_is_exact(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [person(1)])
    good = path.read_bytes()
    path.write_bytes(good + "Nguyễn".encode() + b"\xc3(")
    with pytest.raises(ImportFileError, match=rf"byte 0xC3 at offset {len(good) + len('Nguyễn'.encode())}\)"):
        await import_file(db, path, errors_path=None)


async def test_utf8_with_bom_semicolons_and_blank_lines_are_accepted(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.csv", [person(1), person(2)], encoding="utf-8-sig", delimiter=";")
    path.write_bytes(path.read_bytes() + b"\r\n\r\n;;;;;;;;;;;;\r\n")
    assert counts(await import_file(db, path, errors_path=None)) == (2, 2, 0, 0, 0)


async def test_a_batch_of_only_blank_lines_does_not_end_the_import(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gap.csv", [person(1)])
    with path.open("a", encoding="utf-8", newline="") as f:
        f.write("\r\n" * 7 + ",".join(person(2).values()) + "\r\n")
    summary = await import_file(db, path, errors_path=None, batch_size=2)
    assert counts(summary) == (2, 2, 0, 0, 0)


async def test_rows_with_the_wrong_number_of_fields_are_rejected(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", [person(1)])
    with path.open("a", encoding="utf-8") as f:
        f.write("001090000002,,Short Row\r\n")
        f.write(",".join(person(3).values()) + ",Unquoted, comma\r\n")
    summary = await import_file(db, path, errors_path=tmp_path / "f.err.csv")
    assert counts(summary) == (3, 1, 0, 0, 2)
    assert [r["error"] for r in read_error_file(tmp_path / "f.err.csv")] == [
        "row 3: the row has 3 fields, the header 13", "row 4: the row has 15 fields, the header 13"]


@pytest.mark.parametrize(
    ("header", "fragment"),
    [(COLUMNS[1:], "missing column(s): id"), ((*COLUMNS, "email"), "unknown column(s): email")],
)
async def test_wrong_columns_are_refused(db: Database, tmp_path: Path, header: Sequence[str],
                                         fragment: str) -> None:
    path = write_csv(tmp_path / "h.csv", [person(1)], header=header)
    with pytest.raises(ImportFileError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        await import_file(db, path, errors_path=None)
    assert await count(db) == 0


async def test_missing_and_empty_files_are_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        await import_file(db, tmp_path / "nope.csv", errors_path=None)
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(ImportFileError, match="empty"):
        await import_file(db, tmp_path / "empty.csv", errors_path=None)


async def test_xlsx_import_restores_excel_mangled_values(db: Database, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(COLUMNS))
    a, b = person(1), person(2, household_relation="Vợ")
    ws.append([int(a["id"]), None, a["full_name"], datetime(1981, 2, 2), "Nam", 1, 4, a["permanent_address"],
               None, None, a["household_id"], "Chủ hộ", 912345678])
    ws.append([b[c] or None for c in COLUMNS])
    ws.append([None] * len(COLUMNS))
    ws.append(["123", None, "Bad Row", "2099-01-01", "Nam", None, "00004", "x", None, None, None, None, None])
    wb.save(tmp_path / "people.xlsx")
    summary = await import_file(db, tmp_path / "people.xlsx", errors_path=tmp_path / "people.errors.csv")
    assert counts(summary) == (3, 2, 0, 0, 1)
    stored = await people(db)
    first = stored[a["id"]]  # the ID and codes lost their leading zeros in Excel, restored from the contract
    assert (first.dob, first.birth_province, first.permanent_unit_code, first.phone) == (
        date(1981, 2, 2), "001", "00004", "0912345678")
    assert stored[b["id"]].household_relation == "Vợ"
    assert read_error_file(tmp_path / "people.errors.csv")[0]["error"].startswith("row 5: dob: 2099-01-01")


async def test_a_crash_inside_a_batch_keeps_earlier_batches_and_nothing_of_its_own(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "c.csv", [person(n) for n in range(1, 41)])
    real_check = RowValidator.check_fast
    seen: list[int] = []

    def failing_check(self: RowValidator, values: Sequence[str]) -> Any:
        seen.append(1)
        if len(seen) == 25:  # inside the third batch of 10
            raise RuntimeError("disk on fire")
        return real_check(self, values)

    monkeypatch.setattr(RowValidator, "check_fast", failing_check)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await import_file(db, path, errors_path=None, batch_size=10, bulk=False)
    assert sorted(p.full_name for p in (await people(db)).values()) == sorted(
        f"Nguyễn Văn {n}" for n in range(1, 21))


async def test_a_batch_failing_in_the_database_is_rolled_back_whole(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "c.csv", [person(n) for n in range(1, 41)])
    real_check = RowValidator.check_fast

    def check_then_corrupt(self: RowValidator, values: Sequence[str]) -> Any:
        result = real_check(self, values)
        if values[0] == person(25)["id"]:  # slip an unknown unit past validation: the database refuses it
            result = (*result[:7], "NOPE1", *result[8:])
        return result

    monkeypatch.setattr(RowValidator, "check_fast", check_then_corrupt)
    async with db.unit_of_work() as s:
        job = ImportJob(filename="c.csv")
        s.add(job)
        await s.flush()
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await import_file(db, path, errors_path=None, batch_size=10, job_id=job.id, bulk=False)
    stored = await people(db)
    assert len(stored) == 20 and person(21)["id"] not in stored
    async with db.unit_of_work() as s:
        failed = await s.get(ImportJob, job.id)
        assert failed is not None
        assert (failed.status, failed.rows_imported) == ("failed", 20)
        assert failed.message is not None and failed.finished_at is not None


async def test_the_job_row_and_the_progress_callback_follow_the_import(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "j.csv", [person(n) for n in range(1, 26)] + [person(99, sex="?")])
    async with db.unit_of_work() as s:
        job = ImportJob(filename="j.csv")
        s.add(job)
        await s.flush()
    calls: list[tuple[int, int]] = []
    await import_file(db, path, errors_path=tmp_path / "j.err.csv", job_id=job.id, batch_size=10,
                      progress=lambda done, rows: calls.append((done, rows)))
    size = path.stat().st_size
    assert [rows for _, rows in calls] == [10, 20, 26, 26]
    assert [done for done, _ in calls] == sorted(done for done, _ in calls) and calls[-1][0] == size
    async with db.unit_of_work() as s:
        done = await s.get(ImportJob, job.id)
        assert done is not None
        assert (done.status, done.rows_read, done.rows_imported, done.rows_updated, done.rows_rejected) == (
            "done", 26, 25, 0, 1)
        assert (done.bytes_total, done.bytes_done) == (size, size)
        assert done.error_file == str(tmp_path / "j.err.csv") and done.finished_at is not None


async def test_an_official_imports_only_within_the_jurisdiction(db: Database, tmp_path: Path) -> None:
    hcmc = person(1, permanent_unit="25747", full_name="Registered In HCMC")
    await import_file(db, write_csv(tmp_path / "national.csv", [hcmc]), errors_path=None)
    hanoi = {u["code"] for u in read_units() if str(u["path"]).startswith("VN/01/")}
    takeover = {**hcmc, "permanent_unit": "00004", "full_name": "Moved By Hanoi"}
    outside = person(2, permanent_unit="25747")
    rows = [person(3), takeover, outside, person(4, current_unit="25747", current_address="Số 1")]
    summary = await import_file(db, write_csv(tmp_path / "hanoi.csv", rows), errors_path=tmp_path / "e.csv",
                                allowed_units=hanoi, batch_size=10)
    assert counts(summary) == (4, 2, 0, 0, 2)
    stored = await people(db)
    assert stored[hcmc["id"]].full_name == "Registered In HCMC"
    assert outside["id"] not in stored
    assert [r["error"].split(":", 1)[0] for r in read_error_file(tmp_path / "e.csv")] == ["row 4", "row 3"]


async def test_the_template_imports_cleanly(db: Database, tmp_path: Path) -> None:
    write_template(tmp_path / "template.csv")
    assert counts(await import_file(db, tmp_path / "template.csv", errors_path=None)) == (2, 2, 0, 0, 0)


async def test_memory_does_not_grow_with_the_file(db: Database, tmp_path: Path) -> None:
    small = write_csv(tmp_path / "small.csv", [person(n) for n in range(1, 3_001)])
    large = write_csv(tmp_path / "large.csv", [person(n) for n in range(100_001, 130_001)])
    await import_file(db, write_csv(tmp_path / "warm.csv", [person(0)]), errors_path=None)
    peaks = []
    tracemalloc.start()
    try:
        for path in (small, large):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            summary = await import_file(db, path, errors_path=None, batch_size=1_500)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
            assert summary.rejected == 0
    finally:
        tracemalloc.stop()
    assert large.stat().st_size > 9 * small.stat().st_size
    assert peaks[1] < peaks[0] * 1.5 + 1_000_000, peaks  # 10x the rows, about the same peak
    assert importer is not None
