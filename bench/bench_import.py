"""Register import into PostgreSQL: rows/s for a CSV of synthetic people, against a naive ORM insert.

    .venv/bin/python bench/bench_import.py [--rows 1000000] [--naive 20000] [--batch-size 10000]

In a throwaway database (migrated, units loaded, dropped afterwards): first the naive baseline (one
`session.add` + `commit` per row, into an empty table), then the table is emptied and the CSV is imported
with `import_file`, then imported again (every row unchanged). For context it also times the Python side
alone (read + validate + dedupe, no database) on the same file.

The machine may be shared: besides wall-clock rates it prints the CPU time the import cost in this process
and in the PostgreSQL backends of the database (from /proc), per row. The two sides run in parallel, so on
an otherwise idle 2-core machine the rate is bounded by the larger of the two.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import throwaway_database
from sqlalchemy import text

from dancu.core.db import Database
from dancu.registry.importer import _RowReader, import_file, open_source
from dancu.registry.models import Person
from dancu.registry.seed import generate_people, load_communes
from dancu.registry.validation import COLUMNS, PERSON_COLUMNS, RowValidator, as_import_row
from dancu.units.service import load_official_units


def pg_cpu_seconds(dbname: str) -> float:
    """CPU seconds used so far by the live PostgreSQL backends serving `dbname` (same host only)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres:") and f" {dbname} " in title:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def python_side(path: Path, communes: list[str], batch_size: int) -> float:
    """Seconds to read, validate and dedupe the file without writing it anywhere."""
    started = time.perf_counter()
    reader = _RowReader(open_source(path), RowValidator(communes), None, batch_size)
    while reader.produce() is not None:
        pass
    reader.close(True)
    return time.perf_counter() - started


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


async def run(url: str, rows: int, naive_rows: int, batch_size: int, folder: Path) -> None:
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
        py = python_side(path, [c for c, _, _ in communes], batch_size)
        print(f"python side alone (read + validate + dedupe): {py:.1f} s = {rows / py:,.0f} rows/s")

        naive_rate = await naive(db, naive_rows)
        print(f"naive ORM, add + commit per row: {naive_rows:,} rows at {naive_rate:,.0f} rows/s")
        async with db.engine.begin() as conn:
            await conn.execute(text("TRUNCATE persons CASCADE"))

        dbname = url.rsplit("/", 1)[1]
        started, cpu, pg_cpu = time.perf_counter(), time.process_time(), pg_cpu_seconds(dbname)
        summary = await import_file(db, path, errors_path=folder / "people.errors.csv", batch_size=batch_size)
        elapsed = time.perf_counter() - started
        cpu, pg_cpu = time.process_time() - cpu, pg_cpu_seconds(dbname) - pg_cpu
        assert summary.imported == rows and summary.rejected == 0, summary
        print(f"import_file into an empty table: {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s "
              f"({rows / elapsed / naive_rate:.0f}x naive); load average now {os.getloadavg()[0]:.1f}")
        print(f"  CPU per row: python {cpu / rows * 1e6:.1f} us, postgres {pg_cpu / rows * 1e6:.1f} us "
              f"-> idle 2-core bound ~{rows / max(cpu, pg_cpu):,.0f} rows/s")

        started = time.perf_counter()
        again = await import_file(db, path, errors_path=None, batch_size=batch_size)
        elapsed = time.perf_counter() - started
        assert again.unchanged == rows, again
        print(f"re-import, every row unchanged: {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s")
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dancu-bench-import-") as folder, \
            throwaway_database("dancu_bench_import") as url:
        asyncio.run(run(url, args.rows, args.naive, args.batch_size, Path(folder)))


if __name__ == "__main__":
    main()
