"""Reading a register file: CSV (UTF-8) or XLSX, streamed, its records sorted into valid rows and rejected ones.

`open_source` opens a file; `sort_rows` checks a run of its records (`RowValidator.check_fast`), the one loop
for every way of reading row by row. A large CSV imported as a first load (bulkload.py) is read in chunks by
worker threads instead (`ParallelReader`), each chunk checked column-wise (vector.py, in polars, outside the
GIL) with `check_fast` for the rows that need it; the importer's own thread keeps only what must see the
whole file in order (duplicate IDs, the error file) and sending the data. The file is cut into chunks at
line ends where the count of quote characters so far is even; each chunk is checked to really end between
two records (the csv module reads a stray quote in an unquoted field as text, which upsets the count), and
when one did not, the importer reads the rest of the file in-process from that chunk's start. Both ways, a
row gets the same number, checks and outcome.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import os
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from pathlib import Path
from typing import Any

from dancu.registry import vector
from dancu.registry.validation import ImportFileError, PersonRow, RowValidator, cell_text

# Parallel reading: for CSV files from this size, in chunks of about this many bytes, by up to this many workers.
PARALLEL_MIN_BYTES = 8 << 20
CHUNK_BYTES = 4 << 20
MAX_WORKERS = 2


def check_utf8(path: Path) -> None:
    """Raise ImportFileError unless the whole file is UTF-8 text (one streamed pass, before any row)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith(b"PK\x03\x04"):
            raise ImportFileError("the file is an Excel workbook: name it .xlsx, or save it as 'CSV UTF-8'")
        if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise ImportFileError("the file is UTF-16, not UTF-8: save it as 'CSV UTF-8 (comma delimited)'")
        f.seek(0)
        while chunk := f.read(1 << 20):
            if b"\x00" in chunk:
                at = offset + chunk.index(b"\x00")
                raise ImportFileError(f"the file has a NUL byte at offset {at}: it is UTF-16 or binary, not "
                                      "UTF-8 text; save it as 'CSV UTF-8'")
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at = offset - pending + exc.start
                raise ImportFileError(
                    f"the file is not UTF-8 (byte 0x{exc.object[exc.start]:02X} at offset {at}); "
                    "save it as 'CSV UTF-8'", details={"offset": at},
                ) from None
            offset += len(chunk)
        if decoder.getstate()[0]:
            raise ImportFileError("the file is not UTF-8 (it ends inside a character); save it as UTF-8")


@dataclass
class Source:
    header: list[str]
    rows: Iterator[list[str]]
    position: Callable[[], int]  # bytes read so far
    size: int
    close: Callable[[], None]
    path: Path | None = None  # a CSV's
    delimiter: str = ","
    data_start: int | None = None  # a CSV's first byte after a one-line header without quotes


def _open_csv(path: Path, size: int) -> Source:
    check_utf8(path)
    binary = path.open("rb")
    bom = binary.read(3) == codecs.BOM_UTF8
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    first = text.readline()
    # Excel in locales with a decimal comma (vi-VN among them) writes ';'-separated "CSV".
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        binary.close()
        raise ImportFileError("the file is empty: its first line must be the header row")
    simple = first.endswith("\n") and '"' not in first  # then the header is that line exactly
    start = 3 * bom + len(first.encode()) if simple else None
    # (the wrapper must outlive the reader)
    return Source(header, reader, binary.tell, size, text.close, path, delimiter, start)


def open_csv_at(source: Source, offset: int) -> Source:
    """The same CSV read on from byte `offset`, where a record starts."""
    assert source.path is not None
    binary = source.path.open("rb")
    binary.seek(offset)
    text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
    return Source(source.header, csv.reader(text, delimiter=source.delimiter), binary.tell, source.size,
                   text.close, source.path, source.delimiter)


def _open_xlsx(path: Path, size: int) -> Source:
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

    return Source(header, rows(), position, size, wb.close)


def open_source(path: Path, errors_path: Path | None = None) -> Source:
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


# Sorting a file's records into valid rows and rejected ones, row by row (vector.py decides the usual rows of
# a chunk column-wise and calls `check_fast` for the rest).
@dataclass(slots=True)
class Sorted:
    records: int = 0  # CSV records consumed, blank ones too (row numbers advance by this)
    read: int = 0  # rows: records that are not blank
    rows: list[PersonRow] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)  # the row number of each of `rows`
    cells: list[list[str]] = field(default_factory=list)  # each of `rows` as read (if asked for)
    rejects: list[tuple[int, list[str], str]] = field(default_factory=list)  # (row number, cells, reasons)


class Malformed(Exception):
    """The csv module could not read a record; `row`: the last row read before it."""

    def __init__(self, row: int, reason: str) -> None:
        super().__init__(reason)
        self.row, self.reason = row, reason


@dataclass(frozen=True, slots=True)
class Shape:
    """Where a file's columns are: `order[i]` is the field index of validation.COLUMNS[i]."""

    order: tuple[int, ...]
    fields: int  # the header's field count

    @property
    def width(self) -> int:
        return max(self.order) + 1


def sort_rows(records: Iterable[list[str]], check: Callable[[Any], PersonRow | list[str]], shape: Shape,
              first: int, keep_cells: bool) -> Sorted:
    """Check each record (`first` is the row number of the first one); in-file duplicates are left to the
    caller, which sees the whole file. Malformed when the csv module gives up on a record."""
    out = Sorted()
    rows, numbers, cells, rejects = out.rows, out.numbers, out.cells, out.rejects
    width, fields, pick = shape.width, shape.fields, itemgetter(*shape.order)
    row_no = first - 1
    try:
        for raw in records:
            row_no += 1
            if not any(raw):
                continue  # a blank line (or a spreadsheet's empty row) is not a row
            if len(raw) < width or (len(raw) > fields and any(raw[fields:])):
                out.read += 1
                rejects.append((row_no, raw, f"the row has {len(raw)} fields, the header {fields}"))
                continue
            out.read += 1
            result = check(pick(raw))
            if isinstance(result, list):
                rejects.append((row_no, raw, "; ".join(result)))
            else:
                rows.append(result)
                numbers.append(row_no)
                if keep_cells:
                    cells.append(raw)
    except csv.Error as exc:
        raise Malformed(row_no, str(exc)) from None
    out.records = row_no - first + 1
    return out


# Parallel reading of a large CSV.
@dataclass(frozen=True, slots=True)
class ReadPlan:
    """What a worker thread needs to read chunks exactly as the importer would."""

    delimiter: str
    shape: Shape
    communes: frozenset[str]
    today: date
    tail: str


@dataclass(slots=True)
class ChunkResult:
    clean: bool  # False: the chunk did not end between two records (or the csv module gave up): not used
    records: int = 0
    read: int = 0
    ids: array[int] = field(default_factory=lambda: array("q"))  # national IDs of the valid rows
    numbers: array[int] = field(default_factory=lambda: array("q"))  # their row numbers in the chunk, from 1
    copy: bytes = b""  # the valid rows as COPY lines, one per line
    rejects: list[tuple[int, list[str], str]] = field(default_factory=list)


def read_chunk(data: bytes, plan: ReadPlan, validator: RowValidator) -> ChunkResult:
    """A worker thread's job: one chunk of the file, from the start of a record, numbered from 1, checked
    column-wise (vector.py: polars, which runs outside the GIL) with the row-by-row check for the rest."""
    if not data.endswith((b"\n", b"\r")):
        data += b"\n"  # the file's last line: a line end changes nothing
    got = vector.check_chunk(data, plan.delimiter, plan.shape, validator, plan.tail)
    if got is None:
        return ChunkResult(clean=False)  # read in-process, where the error gets its row number
    return ChunkResult(True, got.records, got.read, array("q", got.ids), array("q", got.numbers), got.copy,
                       got.rejects)


def _cut(data: bytes) -> int:
    """Where to end a chunk: after its last newline with an even number of quote characters before it (0: none)."""
    quotes_after, end = 0, len(data)
    quotes = data.count(b'"')
    while (newline := data.rfind(b"\n", 0, end)) >= 0:
        quotes_after += data.count(b'"', newline, end)
        if (quotes - quotes_after) % 2 == 0:
            return newline + 1
        end = newline
    return 0


@dataclass(slots=True)
class Chunk:
    start: int  # byte offset in the file
    end: int
    data: bytes | None  # None: no usable cut was found, read from `start` in-process
    result: ChunkResult | None = None


class ParallelReader:
    """The chunks of a CSV from byte `start` (a record's start) to the end, read by worker threads, in order,
    a few ahead. `next()` gives each with its result; the caller stops using it after a chunk that is not
    clean (or has no data) and reads the rest of the file from that chunk's start itself."""

    def __init__(self, path: Path, start: int, plan: ReadPlan, workers: int) -> None:
        self.file = path.open("rb")
        self.file.seek(start)
        self.plan, self.validator = plan, RowValidator(plan.communes, today=plan.today)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="dancu-import-read")
        self.offset, self.rest, self.eof = start, b"", False
        self.queue: deque[tuple[Chunk, Future[ChunkResult] | None]] = deque()
        self.ahead = 2 * workers

    @staticmethod
    def workers() -> int:
        return max(1, min(MAX_WORKERS, os.cpu_count() or 1))

    def _chunk(self) -> Chunk | None:
        data = self.rest
        while True:
            if not self.eof:
                more = self.file.read(CHUNK_BYTES)
                self.eof = len(more) < CHUNK_BYTES
                data += more
            if self.eof:
                cut = len(data)  # the rest of the file
                break
            if cut := _cut(data):
                break
            if len(data) >= 16 * CHUNK_BYTES:  # a record this long, or stray quotes: read on in-process
                self.eof, self.rest = True, b""
                return Chunk(self.offset, self.offset, None)
        self.rest = data[cut:]
        if not cut:
            return None
        self.offset += cut
        return Chunk(self.offset - cut, self.offset, data[:cut])

    def _fill(self) -> None:
        while len(self.queue) < self.ahead and not (self.eof and not self.rest):
            chunk = self._chunk()
            if chunk is None:
                break
            if chunk.data is None:
                self.queue.append((chunk, None))
                self.eof, self.rest = True, b""  # nothing after this one is read here
                break
            self.queue.append((chunk, self.pool.submit(read_chunk, chunk.data, self.plan, self.validator)))

    def next(self) -> Chunk | None:
        """The next chunk with its result (or without: read it in-process), None at the end of the file."""
        self._fill()
        if not self.queue:
            return None
        chunk, future = self.queue.popleft()
        if future is not None:
            chunk.result = future.result()
        self._fill()
        return chunk

    def close(self) -> None:
        for _, future in self.queue:
            if future is not None:
                future.cancel()
        self.queue.clear()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.file.close()


def reparse(data: bytes, delimiter: str) -> Iterator[list[str]]:
    """A clean chunk's records again (for the cells of a duplicate row, which workers do not send back)."""
    return csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter)
