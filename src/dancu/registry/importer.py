"""Register import from CSV (UTF-8) or XLSX: streamed, validated row by row, upserted in batches.

The importer is a job: it commits once per batch, so a failure keeps the batches before it and nothing of its
own. Memory stays flat: the file is streamed, one batch is held at a time, seen IDs live on disk (`SeenIds`).
Validating the next batch (in a thread) overlaps writing the previous one (PostgreSQL: COPY into a temporary
table, then one INSERT ... SELECT ... ON CONFLICT; SQLite: executemany, then the same).
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from dancu.core.db import Database, utcnow
from dancu.registry.models import ImportJob
from dancu.registry.validation import (
    ERROR_COLUMN,
    PERSON_COLUMNS,
    ImportFileError,
    RowValidator,
    SeenIds,
    as_import_row,
    cell_text,
    check_utf8,
    column_order,
    write_template,
)
from dancu.units import repository as units_repo

__all__ = ["ImportFileError", "ImportSummary", "import_file", "write_template"]

Progress = Callable[[int, int], None]  # (bytes done, rows read)
log = logging.getLogger("dancu.registry.importer")


@dataclass(slots=True)
class ImportSummary:
    read: int = 0
    imported: int = 0  # new persons
    updated: int = 0  # existing persons whose data changed
    unchanged: int = 0  # existing persons already identical to the row
    rejected: int = 0
    error_file: Path | None = None

    @property
    def existing(self) -> int:
        return self.updated + self.unchanged


@dataclass
class _Source:
    header: list[str]
    rows: Iterator[list[str]]
    position: Callable[[], int]  # bytes read so far
    size: int
    close: Callable[[], None]


def _open_csv(path: Path, size: int) -> _Source:
    check_utf8(path)
    binary = path.open("rb")
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    first = text.readline()
    # Excel in locales with a decimal comma (vi-VN among them) writes ';'-separated "CSV".
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        binary.close()
        raise ImportFileError("the file is empty: its first line must be the header row")
    return _Source(header, reader, binary.tell, size, text.close)  # (the wrapper must outlive the reader)


def _open_xlsx(path: Path, size: int) -> _Source:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(f"the file is not a readable .xlsx workbook ({exc})") from None
    ws = wb.worksheets[0]
    values = ws.iter_rows(values_only=True)
    header = [cell_text(v, "") for v in next(values, None) or ()]
    if not header:
        wb.close()
        raise ImportFileError("the workbook's first sheet is empty: its first row must be the header row")
    columns = [h.strip().lower() for h in header]
    total, done = ws.max_row or 0, [1]

    def rows() -> Iterator[list[str]]:
        for row in values:
            done[0] += 1
            yield [cell_text(v, c) for v, c in zip(row, columns, strict=False)]

    def position() -> int:  # compressed XML: estimated from the sheet's declared row count
        return min(size, size * done[0] // total) if total else 0

    return _Source(header, rows(), position, size, wb.close)


def open_source(path: Path, errors_path: Path | None = None) -> _Source:
    """Open a CSV or XLSX file for reading; ImportFileError when it cannot be read as one."""
    if not path.is_file():
        raise ImportFileError(f"no such file: {path}")
    if errors_path is not None and errors_path.resolve() == path.resolve():
        raise ImportFileError("the error file cannot be the imported file itself")
    size, suffix = path.stat().st_size, path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(path, size)
    if suffix in (".xls", ".ods", ".numbers"):
        raise ImportFileError(f"{suffix} files are not supported: save the sheet as .xlsx or 'CSV UTF-8'")
    return _open_csv(path, size)


# Writing: the persons table is reached only through a temporary staging table, one batch at a time.
_STAGE = "dancu_import_stage"
_COLS = ", ".join(PERSON_COLUMNS)
_STAGE_DDL = (f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ("
              + ", ".join(f"{c} {'date' if c == 'dob' else 'text'}" for c in PERSON_COLUMNS) + ")")


def _upsert(now: str, changed: str) -> str:
    """New persons are inserted, changed ones updated, identical ones left alone (no write, no dead row).
    In ID order, so that concurrent imports lock rows in the same order (no deadlock)."""
    assignments = ", ".join(f"{c} = excluded.{c}" for c in (*PERSON_COLUMNS[1:], "updated_at"))
    return (f"INSERT INTO persons ({_COLS}, status, created_at, updated_at) "
            f"SELECT {_COLS}, 'alive', {now}, {now} FROM {_STAGE} WHERE true ORDER BY national_id "
            f"ON CONFLICT (national_id) DO UPDATE SET {assignments} WHERE {changed}")


_PG_CHANGED = "({}) IS DISTINCT FROM ({})".format(
    ", ".join(f"persons.{c}" for c in PERSON_COLUMNS[1:]),
    ", ".join(f"excluded.{c}" for c in PERSON_COLUMNS[1:]),
)
_PG_UPSERT = (f"WITH w AS ({_upsert('now()', _PG_CHANGED)} RETURNING (xmax = 0) AS new) "
              "SELECT count(*) FILTER (WHERE new), count(*) FROM w")
_SQLITE_UPSERT = _upsert("?", " OR ".join(f"persons.{c} IS NOT excluded.{c}" for c in PERSON_COLUMNS[1:]))
_SQLITE_STAGE = f"INSERT INTO {_STAGE} VALUES ({', '.join('?' for _ in PERSON_COLUMNS)})"
_SQLITE_EXISTING = f"SELECT count(*) FROM {_STAGE} s JOIN persons p ON p.national_id = s.national_id"
# With a jurisdiction, persons already registered elsewhere are not overwritten: taken out of the batch.
_ALLOWED = "dancu_import_allowed"
_REFUSE = (f"DELETE FROM {_STAGE} WHERE national_id IN (SELECT p.national_id FROM persons p"
           f" JOIN {_STAGE} s ON s.national_id = p.national_id"
           f" WHERE p.permanent_unit_code NOT IN (SELECT code FROM {_ALLOWED})"
           f" AND p.current_unit_code NOT IN (SELECT code FROM {_ALLOWED})) RETURNING national_id")


@dataclass(frozen=True, slots=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: tuple[str, ...] = ()  # IDs of persons registered outside the jurisdiction: left as they are


class BulkWriter:
    """Upserts valid rows (`PERSON_COLUMNS` order) on national_id, one transaction per batch, on a connection
    of its own held for the whole run: PostgreSQL binary COPY (asyncpg) or SQLite executemany into a temporary
    table, then one INSERT ... SELECT ... ON CONFLICT."""

    def __init__(self, conn: AsyncConnection, pg: Any, restricted: bool) -> None:
        self.conn, self.pg, self.restricted = conn, pg, restricted

    async def write(self, rows: list[tuple[Any, ...]]) -> WriteCounts:
        if not rows:
            return WriteCounts()
        refused: tuple[str, ...] = ()
        if self.pg is not None:
            async with self.pg.transaction():
                await self.pg.copy_records_to_table(_STAGE, records=rows, columns=PERSON_COLUMNS)
                if self.restricted:
                    refused = tuple(r[0] for r in await self.pg.fetch(_REFUSE))
                new, changed = await self.pg.fetchrow(_PG_UPSERT)
            return WriteCounts(new, changed - new, len(rows) - len(refused) - changed, refused)
        now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's storage format for SQLite datetimes
        async with self.conn.begin():
            await self.conn.exec_driver_sql(f"DELETE FROM {_STAGE}")
            await self.conn.exec_driver_sql(_SQLITE_STAGE, [(*r[:4], r[4].isoformat(), *r[5:]) for r in rows])
            if self.restricted:
                refused = tuple(r[0] for r in await self.conn.exec_driver_sql(_REFUSE))
            existing = (await self.conn.exec_driver_sql(_SQLITE_EXISTING)).scalar_one()
            changed = (await self.conn.exec_driver_sql(_SQLITE_UPSERT, (now, now))).rowcount
        new = len(rows) - len(refused) - existing
        return WriteCounts(new, changed - new, existing - (changed - new), refused)


@asynccontextmanager
async def open_writer(db: Database, allowed: Collection[str] | None = None) -> AsyncIterator[BulkWriter]:
    """A bulk writer. With `allowed` units, persons already registered outside them are never modified."""
    codes = [(c,) for c in sorted(allowed or ())]
    allowed_ddl = f"CREATE TEMP TABLE IF NOT EXISTS {_ALLOWED} (code text PRIMARY KEY)"
    async with db.engine.connect() as conn:
        pg: Any = None
        if db.is_sqlite:
            for sql in (_STAGE_DDL, allowed_ddl, f"DELETE FROM {_ALLOWED}"):
                await conn.exec_driver_sql(sql)
            if codes:
                await conn.exec_driver_sql(f"INSERT INTO {_ALLOWED} VALUES (?)", codes)
            await conn.commit()
        else:
            pg = (await conn.get_raw_connection()).driver_connection
            await pg.execute(f"{_STAGE_DDL} ON COMMIT DELETE ROWS; {allowed_ddl}; DELETE FROM {_ALLOWED}")
            if codes:
                await pg.copy_records_to_table(_ALLOWED, records=codes)
        yield BulkWriter(conn, pg, allowed is not None)


# The batch loop, shared with the synthetic population.
@dataclass(slots=True)
class Batch:
    rows: list[tuple[Any, ...]]
    read: int = 0
    rejected: int = 0
    position: int = 0
    row_numbers: list[int] = field(default_factory=list)  # of `rows`, when they come from a file


async def pump(
    db: Database, produce: Callable[[], Batch | None], done: Callable[[Batch, WriteCounts], Awaitable[None]],
    *, allowed: Collection[str] | None = None,
) -> None:
    """Write each batch `produce` returns (it runs in a thread) while it prepares the next one; `done` runs
    after each commit, never while `produce` runs."""
    async with open_writer(db, allowed) as writer:
        batch = await asyncio.to_thread(produce)
        while batch is not None:
            writing = asyncio.ensure_future(writer.write(batch.rows))
            try:
                following = await asyncio.to_thread(produce)
            except BaseException:
                await asyncio.wait([writing])  # the batch in flight commits or rolls back whole first
                if not writing.cancelled() and writing.exception() is not None:
                    log.error("a batch failed too", exc_info=writing.exception())
                raise
            await done(batch, await writing)
            batch = following


class _RowReader:
    """The file's rows as batches of valid persons rows; rejected rows go to the error file."""

    def __init__(self, source: _Source, validator: RowValidator, errors_path: Path | None, size: int) -> None:
        self.source, self.check, self.batch_size = source, validator.check, size
        self.order = order = column_order(source.header)
        self.width, self.pick, self.fields = max(order) + 1, itemgetter(*order), len(source.header)
        names = [h.strip().lstrip("\ufeff").strip().lower() for h in source.header]
        self.keep = [i for i, n in enumerate(names) if n != ERROR_COLUMN and i < self.width]
        self.errors_path = errors_path
        self._errors: TextIO | None = None
        self._csv: Any = None  # csv writer
        self.seen = SeenIds()
        self.row_no = 1  # numbered as a spreadsheet shows them: the header is row 1

    def refuse(self, batch: Batch, national_ids: Sequence[str]) -> None:
        """Report the batch's rows the writer refused (persons registered outside the jurisdiction)."""
        refused = set(national_ids)
        for row, row_no in zip(batch.rows, batch.row_numbers, strict=True):
            if row[0] in refused:
                raw = [""] * self.width
                for i, value in zip(self.order, as_import_row(row), strict=True):
                    raw[i] = value
                self._reject(batch, raw, "id: this person is registered outside your jurisdiction", row_no)

    def _reject(self, batch: Batch, raw: list[str], reasons: str, row_no: int | None = None) -> None:
        batch.rejected += 1
        if self.errors_path is None:
            return
        if self._csv is None:
            self._errors = self.errors_path.open("w", encoding="utf-8-sig", newline="")
            self._csv = csv.writer(self._errors)
            self._csv.writerow([self.source.header[i] for i in self.keep] + [ERROR_COLUMN])
        cells = [raw[i] if i < len(raw) else "" for i in self.keep]
        self._csv.writerow([*cells, f"row {row_no or self.row_no}: {reasons}"])

    def produce(self) -> Batch | None:
        batch: Batch = Batch(rows=[])
        check, first_row, width, start = self.check, self.seen.first_row, self.width, self.row_no
        try:
            for raw in itertools.islice(self.source.rows, self.batch_size):
                self.row_no += 1
                if not any(raw):
                    continue  # a blank line (or a spreadsheet's empty row) is not a row
                batch.read += 1
                if len(raw) < width or (len(raw) > self.fields and any(raw[self.fields:])):
                    self._reject(batch, raw, f"the row has {len(raw)} fields, the header {self.fields}")
                    continue
                result = check(self.pick(raw))
                if isinstance(result, list):
                    self._reject(batch, raw, "; ".join(result))
                elif (first := first_row(result[0], self.row_no)) is not None:
                    self._reject(batch, raw, f"id: duplicate of row {first} (the first one is kept)")
                else:
                    batch.rows.append(result)
                    batch.row_numbers.append(self.row_no)
        except csv.Error as exc:
            raise ImportFileError(f"row {self.row_no}: the CSV is malformed ({exc})") from None
        if self._errors is not None:
            self._errors.flush()
        batch.position = self.source.position()
        return batch if self.row_no > start else None  # None: the end of the file

    def close(self, completed: bool) -> Path | None:
        """Release the file, the ID index and the error file; the error file's path if one was written."""
        self.seen.close()
        self.source.close()
        if self._errors is not None:
            self._errors.close()
            return self.errors_path
        if completed and self.errors_path is not None:
            self.errors_path.unlink(missing_ok=True)  # one left by an earlier run no longer applies
        return None


# The import job.
async def _update_job(db: Database, job_id: int | None, **values: Any) -> None:
    if job_id is not None:
        async with db.unit_of_work() as session:
            await session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


async def import_file(
    db: Database, path: Path, *, errors_path: Path | None, job_id: int | None = None,
    progress: Progress | None = None, batch_size: int = 10_000, allowed_units: Collection[str] | None = None,
) -> ImportSummary:
    """Import a register file (docs/import-format.md), committing per batch. Rejected rows go to `errors_path`
    (written only if a row is rejected). ImportFileError: the file cannot be imported at all. `job_id`: the
    ImportJob follows progress and outcome. `allowed_units`: a jurisdiction (rows need a unit in it, and
    persons registered outside it are not modified)."""
    summary = ImportSummary()
    try:
        source = await asyncio.to_thread(open_source, path, errors_path)
        try:
            await _update_job(db, job_id, status="running", bytes_total=source.size, bytes_done=0)
            async with db.unit_of_work() as session:
                communes = await units_repo.all_codes(session, "commune")
            if not communes:
                raise ImportFileError("no administrative units are loaded in the database: load them first")
            validator = RowValidator(communes, allowed=allowed_units)
            reader = _RowReader(source, validator, errors_path, max(1, batch_size))
        except BaseException:
            source.close()
            raise

        async def done(batch: Batch, counts: WriteCounts) -> None:
            if counts.refused:
                reader.refuse(batch, counts.refused)
            summary.read += batch.read
            summary.rejected += batch.rejected
            summary.imported += counts.inserted
            summary.updated += counts.updated
            summary.unchanged += counts.unchanged
            await _update_job(db, job_id, bytes_done=batch.position, rows_read=summary.read,
                              rows_imported=summary.imported, rows_updated=summary.existing,
                              rows_rejected=summary.rejected)
            if progress is not None:
                progress(batch.position, summary.read)

        completed = False
        try:
            await pump(db, reader.produce, done, allowed=allowed_units)
            completed = True
        finally:
            summary.error_file = reader.close(completed)
    except BaseException as exc:
        message = exc.message if isinstance(exc, ImportFileError) else f"import failed: {exc!r}"
        try:
            await asyncio.shield(_update_job(db, job_id, status="failed", message=message[:500],
                                             finished_at=utcnow()))
        except Exception:  # the original failure matters more than its bookkeeping
            log.exception("could not record the failure of import job %s", job_id)
        raise
    if progress is not None:
        progress(source.size, summary.read)
    await _update_job(
        db, job_id, status="done", bytes_done=source.size, finished_at=utcnow(),
        error_file=str(summary.error_file) if summary.error_file else None,
        message=(f"{summary.read} read, {summary.imported} new, {summary.updated} updated, "
                 f"{summary.unchanged} unchanged, {summary.rejected} rejected"),
    )
    return summary
