"""Register import from CSV (UTF-8) or XLSX: streamed, validated row by row, written in batches.

The importer is a job. Memory stays flat: the file is streamed (reading.py), one batch is held at a time,
seen IDs live on disk (`SeenIds`). Validating the next batch (in a thread) overlaps writing the previous one
(bulkload.py). Two ways of writing:

- into an empty register on PostgreSQL, for an import not limited to a jurisdiction: one "first load"
  transaction. Rows are COPYed straight into persons with its indexes and constraints dropped, rebuilt at
  the end; a failure anywhere rolls it all back, leaving the register empty. A large CSV is then read in
  chunks by worker threads and checked column-wise (vector.py);
- otherwise, batch upserts: one transaction per batch, so a failure keeps the batches before it and nothing
  of its own.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol, TextIO

from sqlalchemy import update

from dancu.core.db import Database, utcnow
from dancu.core.errors import DomainError
from dancu.registry import reading
from dancu.registry.bulkload import FirstLoad, WriteCounts, first_load, open_writer
from dancu.registry.models import ImportJob
from dancu.registry.reading import (
    Chunk,
    ChunkResult,
    Malformed,
    ParallelReader,
    ReadPlan,
    Shape,
    Source,
    open_csv_at,
    open_source,
    sort_rows,
)
from dancu.registry.validation import (
    ERROR_COLUMN,
    ImportFileError,
    PersonRow,
    RowValidator,
    as_import_row,
    column_order,
    write_template,
)
from dancu.units import repository as units_repo

__all__ = ["Batch", "ImportFileError", "ImportSummary", "WriteCounts", "import_file", "open_source", "pump",
           "write_template"]

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
    first_load: bool = False  # written by one bulk first-load transaction (bulkload.py)

    @property
    def existing(self) -> int:
        return self.updated + self.unchanged


# The batch loop, shared with the synthetic population.
@dataclass(slots=True)
class Batch:
    rows: list[tuple[Any, ...]]
    read: int = 0
    rejected: int = 0
    position: int = 0
    row_numbers: list[int] = field(default_factory=list)  # of `rows`, when they come from a file
    copy: bytes = b""  # for a first load: the valid rows in COPY text format (and `rows` is empty)


class Writer(Protocol):
    async def write(self, batch: Batch) -> WriteCounts: ...


Done = Callable[[Batch, WriteCounts], Awaitable[None]]


async def pump(db: Database, produce: Callable[[], Batch | None], done: Done, *,
               allowed: Collection[str] | None = None) -> None:
    """Upsert each batch `produce` returns (see `run_batches`), one transaction per batch."""
    async with open_writer(db, allowed) as writer:
        await run_batches(writer, produce, done)


async def run_batches(writer: Writer, produce: Callable[[], Batch | None], done: Done) -> None:
    """Write each batch `produce` returns (it runs in a thread) while it prepares the next one; `done` runs
    after each write, never while `produce` runs."""
    batch = await asyncio.to_thread(produce)
    while batch is not None:
        writing = asyncio.ensure_future(writer.write(batch))
        try:
            following = await asyncio.to_thread(produce)
        except BaseException:
            await asyncio.wait([writing])  # the batch in flight commits or rolls back whole first
            if not writing.cancelled() and writing.exception() is not None:
                log.error("a batch failed too", exc_info=writing.exception())
            raise
        await done(batch, await writing)
        batch = following


class SeenIds:
    """The national IDs accepted so far in one file and the row of each, for "duplicate of row N" (the first
    occurrence wins). Kept in a private temporary on-disk SQLite file, deleted on close, so that memory stays
    flat for a file of any size (its page cache is capped at 64 MB) while a lookup costs under two
    microseconds. (A 64 MB cache instead of 8: -27% CPU for a million IDs.)"""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", check_same_thread=False)  # "": a private temporary file
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-64000"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (id INTEGER PRIMARY KEY, row INTEGER NOT NULL)")
        self._cur = self._db.cursor()

    def first_row(self, national_id: str, row: int) -> int | None:
        """None when the ID is new (it is remembered at `row`); else the row where it was first accepted."""
        key = int(national_id)
        self._cur.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, row))
        if self._cur.rowcount == 1:
            return None
        return int(self._cur.execute("SELECT row FROM seen WHERE id = ?", (key,)).fetchone()[0])

    def add_many(self, national_ids: Sequence[str | int], rows: Sequence[int]) -> dict[int, int]:
        """`first_row` for a batch at once (rows in file order): {index in the batch: first row} of the
        duplicates, each of an earlier batch or of an earlier row of this one."""
        before = self._db.total_changes
        pairs = zip(map(int, national_ids), rows, strict=True)
        self._cur.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", pairs)
        if self._db.total_changes - before == len(rows):
            return {}  # all new: the usual case
        duplicates = {}
        for i, (national_id, row) in enumerate(zip(national_ids, rows, strict=True)):
            first = int(self._cur.execute("SELECT row FROM seen WHERE id = ?", (int(national_id),)).fetchone()[0])
            if first != row:
                duplicates[i] = first
        return duplicates

    def close(self) -> None:
        self._db.close()


class _RowReader:
    """The file's rows as batches of valid persons rows; rejected rows go to the error file. With `encode`
    (a first load), a batch carries its rows as COPY data instead; `read_in_parallel` then has worker
    threads read a large CSV in chunks, checked column-wise."""

    def __init__(self, source: Source, validator: RowValidator, errors_path: Path | None, size: int) -> None:
        self.source, self.validator, self.batch_size = source, validator, size
        self.shape = Shape(tuple(column_order(source.header)), len(source.header))
        names = [h.strip().lstrip("\ufeff").strip().lower() for h in source.header]
        self.keep = [i for i, n in enumerate(names) if n != ERROR_COLUMN and i < self.shape.width]
        self.errors_path = errors_path
        self._errors: TextIO | None = None
        self._csv: Any = None  # csv writer
        self.seen = SeenIds()
        self.row_no = 1  # numbered as a spreadsheet shows them: the header is row 1
        self.encode: Callable[[list[PersonRow]], bytes] | None = None
        self.parallel: ParallelReader | None = None

    def read_in_parallel(self, tail: str) -> bool:
        """Have worker threads read the rest of the file (as COPY data ending lines with `tail`), if it is a
        CSV large enough for that to pay; True if so."""
        start, size = self.source.data_start, self.source.size
        if start is None or size - start < reading.PARALLEL_MIN_BYTES or self.validator.allowed is not None:
            return False
        plan = ReadPlan(self.source.delimiter, self.shape, self.validator.communes, self.validator.today, tail)
        self.parallel = ParallelReader(self.source.path or Path(), start, plan, ParallelReader.workers())
        return True

    def refuse(self, batch: Batch, national_ids: Sequence[str]) -> None:
        """Report the batch's rows the writer refused (persons registered outside the jurisdiction)."""
        refused = set(national_ids)
        for row, row_no in zip(batch.rows, batch.row_numbers, strict=True):
            if row[0] in refused:
                raw = [""] * self.shape.width
                for i, value in zip(self.shape.order, as_import_row(row), strict=True):
                    raw[i] = value
                self._reject(batch, raw, "id: this person is registered outside your jurisdiction", row_no)

    def _reject(self, batch: Batch, raw: list[str], reasons: str, row_no: int) -> None:
        batch.rejected += 1
        if self.errors_path is None:
            return
        if self._csv is None:
            self._errors = self.errors_path.open("w", encoding="utf-8-sig", newline="")
            self._csv = csv.writer(self._errors)
            self._csv.writerow([self.source.header[i] for i in self.keep] + [ERROR_COLUMN])
        cells = [raw[i] if i < len(raw) else "" for i in self.keep]
        self._csv.writerow([*cells, f"row {row_no}: {reasons}"])

    def produce(self) -> Batch | None:
        if self.parallel is not None:
            chunk = self.parallel.next()
            if chunk is None:
                return None
            if chunk.result is not None and chunk.result.clean:
                return self._settle_chunk(chunk, chunk.result)
            log.info("reading on in-process from byte %d: a chunk did not end between two records", chunk.start)
            self.parallel.close()
            self.parallel = None
            self.source.close()
            self.source = open_csv_at(self.source, chunk.start)
        start = self.row_no
        try:
            got = sort_rows(itertools.islice(self.source.rows, self.batch_size), self.validator.check_fast,
                            self.shape, start + 1, keep_cells=True)
        except Malformed as exc:
            raise ImportFileError(f"row {exc.row}: the CSV is malformed ({exc.reason})") from None
        if not got.records:
            return None  # the end of the file
        self.row_no += got.records
        batch = Batch(rows=[], read=got.read, row_numbers=got.numbers)
        rows, rejects = got.rows, got.rejects
        # In-file duplicates, all at once: the first row with an ID wins, here or in an earlier batch.
        duplicates = self.seen.add_many([row[0] for row in rows], got.numbers)
        if duplicates:
            for i, first in duplicates.items():
                rejects.append((got.numbers[i], got.cells[i], f"id: duplicate of row {first} (the first one is kept)"))
            rejects.sort(key=itemgetter(0))
            kept = [i for i in range(len(rows)) if i not in duplicates]
            rows, batch.row_numbers = [rows[i] for i in kept], [got.numbers[i] for i in kept]
        self._report(batch, rejects)
        if self.encode is None:
            batch.rows = rows
        else:
            batch.copy, batch.row_numbers = self.encode(rows), []
        batch.position = self.source.position()
        return batch

    def _settle_chunk(self, chunk: Chunk, result: ChunkResult) -> Batch:
        """A chunk read by a worker thread: its row numbers placed in the file, its duplicates taken out."""
        base = self.row_no
        self.row_no += result.records
        batch = Batch(rows=[], read=result.read, position=chunk.end, copy=result.copy)
        numbers = [base + n for n in result.numbers]
        rejects = [(base + n, cells, reasons) for n, cells, reasons in result.rejects]
        duplicates = self.seen.add_many(result.ids, numbers)
        if duplicates:
            assert chunk.data is not None
            records = list(reading.reparse(chunk.data, self.source.delimiter))
            for i, first in duplicates.items():
                rejects.append((numbers[i], records[result.numbers[i] - 1],
                                f"id: duplicate of row {first} (the first one is kept)"))
            rejects.sort(key=itemgetter(0))
            lines = result.copy.split(b"\n")  # (COPY text escapes line breaks inside values)
            batch.copy = b"".join(line + b"\n" for i, line in enumerate(lines[:-1]) if i not in duplicates)
        self._report(batch, rejects)
        return batch

    def _report(self, batch: Batch, rejects: list[tuple[int, list[str], str]]) -> None:
        for row_no, cells, reasons in rejects:
            self._reject(batch, cells, reasons, row_no)
        if self._errors is not None:
            self._errors.flush()

    def close(self, completed: bool) -> Path | None:
        """Release the file, the worker threads, the ID index and the error file; the error file's path if one was
        written."""
        if self.parallel is not None:
            self.parallel.close()
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
    bulk: bool | None = None, parallel: bool = True,
) -> ImportSummary:
    """Import a register file (docs/import-format.md), committing per batch. Rejected rows go to `errors_path`
    (written only if a row is rejected). ImportFileError: the file cannot be imported at all. `job_id`: the
    ImportJob follows progress and outcome. `allowed_units`: a jurisdiction (rows need a unit in it, and
    persons registered outside it are not modified). `bulk`: a first load into an empty register, one
    transaction (bulkload.py): None (default) whenever possible (PostgreSQL, persons empty, no jurisdiction),
    True to insist (ImportFileError when it is not possible), False never. `parallel`: a first load of a large
    CSV is read in chunks by worker threads, checked column-wise (reading.py, vector.py); False reads it
    row by row in one thread (the same outcome, slower)."""
    summary = ImportSummary()
    try:
        if bulk and (db.is_sqlite or allowed_units is not None):
            raise ImportFileError("a bulk first load needs PostgreSQL and an import not limited to a jurisdiction")
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
            async with AsyncExitStack() as stack:
                load: FirstLoad | None = None
                if bulk is not False and not db.is_sqlite and allowed_units is None:
                    load = await stack.enter_async_context(first_load(db, insist=bool(bulk)))
                if load is not None:
                    summary.first_load, reader.encode = True, load.encode
                    if parallel:
                        await asyncio.to_thread(reader.read_in_parallel, load.tail)
                    await run_batches(load, reader.produce, done)
                    await load.finish()
                else:
                    writer = await stack.enter_async_context(open_writer(db, allowed_units))
                    await run_batches(writer, reader.produce, done)
            completed = True
        finally:
            summary.error_file = reader.close(completed)
    except BaseException as exc:
        message = exc.message if isinstance(exc, DomainError) else f"import failed: {exc!r}"
        undone: dict[str, Any] = {}
        if summary.first_load:  # one transaction: rolled back whole
            undone = {"rows_imported": 0, "rows_updated": 0}
            if not message.startswith("the first load was rolled back"):
                message = f"the first load was rolled back, nothing was imported: {message}"
        try:
            await asyncio.shield(_update_job(db, job_id, status="failed", message=message[:500],
                                             finished_at=utcnow(), **undone))
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
