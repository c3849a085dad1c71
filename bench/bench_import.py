"""Register import into PostgreSQL: rows/s for a CSV of synthetic people, against a naive ORM insert.

    .venv/bin/python bench/bench_import.py [--rows 1000000] [--naive 20000] [--batch-size 10000] [--also-upsert]

In a throwaway database (migrated, units loaded, dropped afterwards): first the naive baseline (one
`session.add` + `commit` per row, into an empty table), then the table is emptied and the CSV is imported
with `import_file` (into an empty table: the bulk first load, bulkload.py; it prints the path taken and the
seconds spent rebuilding each index and constraint), then imported again (every row unchanged: the batch
upsert). With --also-upsert, the table is emptied once more and the file imported with bulk=False (the batch
upsert into an empty table, for comparison). For context it also times the Python side alone (read +
validate + dedupe + COPY encoding, no database) on the same file, both ways: row by row in one thread, and
in chunks checked column-wise by worker threads (reading.py, vector.py: what a first load of a large CSV
does).

The machine may be shared: besides wall-clock rates it prints the CPU time the import cost in this process
(all its threads) and in the PostgreSQL backends of the database (from /proc), per row. They all run at
once, so on an otherwise idle 2-core machine the rate is bounded by their sum over 2 (the index rebuilds'
parallel workers are not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import postgres_cpu, throwaway_database
from sqlalchemy import text

from dancu.core.db import Database
from dancu.registry import reading
from dancu.registry.bulkload import copy_text
from dancu.registry.importer import ImportSummary, _RowReader, import_file, open_source
from dancu.registry.models import Person
from dancu.registry.reading import ParallelReader
from dancu.registry.seed import generate_people, load_communes
from dancu.registry.validation import COLUMNS, PERSON_COLUMNS, RowValidator, as_import_row
from dancu.units.service import load_official_units


def python_side(path: Path, communes: list[str], batch_size: int, parallel: bool) -> tuple[float, float]:
    """Seconds (wall, CPU) to read, validate, dedupe and COPY-encode the file without writing it anywhere:
    row by row in one thread, or (`parallel`) as a first load of a large CSV reads it, in chunks checked
    column-wise by worker threads."""
    started, cpu = time.perf_counter(), time.process_time()
    reader = _RowReader(open_source(path), RowValidator(communes), None, batch_size)
    tail = "\n"  # as a first load's COPY lines end (bulkload.LoadDefaults fills the shared columns)
    reader.encode = lambda rows: copy_text(rows, tail)
    if parallel:
        assert reader.read_in_parallel(tail)
    while reader.produce() is not None:
        pass
    reader.close(True)
    return time.perf_counter() - started, time.process_time() - cpu


async def naive(db: Database, rows: int) -> float:
    """Rows/s of the ORM one row at a time: session.add + commit per row."""
    communes = await load_communes(db)
    people = list(generate_people(communes, rows, seed=99))
    started = time.perf_counter()
    async with db.sessionmaker() as session:
        for row in people:
            session.add(Person(**dict(zip(PERSON_COLUMNS, row, strict=True))))
            await session.commit()
    return rows / (time.perf_counter() - started)


def path_taken(summary: ImportSummary, path: Path | None = None) -> str:
    if not summary.first_load:
        return "batch upsert"
    pool = (f", read by {ParallelReader.workers()} threads, checked column-wise"
            if path is not None and path.stat().st_size >= reading.PARALLEL_MIN_BYTES else ", read in-process")
    return f"bulk first load: one transaction, indexes rebuilt{pool}"


async def timed_import(db: Database, dbname: str, path: Path, rows: int, batch_size: int, naive_rate: float,
                       label: str, bulk: bool | None = None) -> None:
    started, cpu, pg_cpu = time.perf_counter(), time.process_time(), postgres_cpu(dbname)
    summary = await import_file(db, path, errors_path=path.with_suffix(".errors.csv"), batch_size=batch_size,
                                bulk=bulk, parallel=True)  # as `dancu registry import` does
    elapsed = time.perf_counter() - started
    cpu, pg_cpu = time.process_time() - cpu, postgres_cpu(dbname) - pg_cpu
    assert summary.imported == rows and summary.rejected == 0, summary
    print(f"{label} [{path_taken(summary, path)}]: {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s "
          f"({rows / elapsed / naive_rate:.0f}x naive); load average now {os.getloadavg()[0]:.1f}")
    total = cpu + pg_cpu
    print(f"  CPU per row: python {cpu / rows * 1e6:.1f} us (all its threads), "
          f"postgres {pg_cpu / rows * 1e6:.1f} us -> idle 2-core bound ~{rows / (total / 2):,.0f} rows/s")


async def run(url: str, rows: int, naive_rows: int, batch_size: int, folder: Path, also_upsert: bool) -> None:
    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            await load_official_units(s)
        communes = await load_communes(db)
        path = folder / "people.csv"
        started = time.perf_counter()
        with path.open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            out.writerow(COLUMNS)
            out.writerows(as_import_row(r) for r in generate_people(communes, rows, seed=2021))
        print(f"file: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB (generated in "
              f"{time.perf_counter() - started:.1f} s)")
        for parallel, how in ((False, "row by row, one thread"), (True, "column-wise chunks, worker threads")):
            py, py_cpu = python_side(path, [c for c, _, _ in communes], batch_size, parallel)
            print(f"python side alone, {how} (read + validate + dedupe + COPY encoding): {py:.1f} s = "
                  f"{rows / py:,.0f} rows/s, {py_cpu / rows * 1e6:.1f} us CPU per row")

        naive_rate = await naive(db, naive_rows)
        print(f"naive ORM, add + commit per row: {naive_rows:,} rows at {naive_rate:,.0f} rows/s")
        async with db.engine.begin() as conn:
            await conn.execute(text("TRUNCATE persons CASCADE"))

        dbname = url.rsplit("/", 1)[1]
        await timed_import(db, dbname, path, rows, batch_size, naive_rate, "import_file into an empty table")

        started = time.perf_counter()
        again = await import_file(db, path, errors_path=None, batch_size=batch_size)
        elapsed = time.perf_counter() - started
        assert again.unchanged == rows, again
        print(f"re-import, every row unchanged [{path_taken(again)}]: {elapsed:.1f} s = "
              f"{rows / elapsed:,.0f} rows/s")

        if also_upsert:
            async with db.engine.begin() as conn:
                await conn.execute(text("TRUNCATE persons CASCADE"))
            await timed_import(db, dbname, path, rows, batch_size, naive_rate,
                               "import_file into an empty table, bulk=False", bulk=False)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--also-upsert", action="store_true",
                        help="also time the batch upsert into an empty table (bulk=False)")
    args = parser.parse_args()
    logging.basicConfig(format="  %(message)s", level=logging.WARNING, stream=sys.stdout)
    logging.getLogger("dancu.registry.bulkload").setLevel(logging.INFO)  # the rebuild timings
    with tempfile.TemporaryDirectory(prefix="dancu-bench-import-") as folder, \
            throwaway_database("dancu_bench_import") as url:
        asyncio.run(run(url, args.rows, args.naive, args.batch_size, Path(folder), args.also_upsert))


if __name__ == "__main__":
    main()
