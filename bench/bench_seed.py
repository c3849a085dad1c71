"""Synthetic population into PostgreSQL: seconds to seed N people (target: 1,000,000 in under ~2 minutes).

    .venv/bin/python bench/bench_seed.py [--people 1000000] [--seed 2021]

In a throwaway database (migrated, units loaded, dropped afterwards). Also prints the generator's own rate
(no database) for context, and the time of a second run with the same seed (every row unchanged).
On a shared machine, the CPU time per person in this process and in PostgreSQL tells what an idle one
would do (bench_import.pg_cpu_seconds reads it from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import throwaway_database
from bench_import import pg_cpu_seconds
from sqlalchemy import func, select

from dancu.core.db import Database
from dancu.registry.models import Person
from dancu.registry.seed import generate_people, load_communes, seed_population
from dancu.units.service import load_official_units


async def run(url: str, people: int, seed: int) -> None:
    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            await load_official_units(s)
        communes = await load_communes(db)
        sample = min(people, 200_000)
        started = time.perf_counter()
        for _ in itertools.islice(generate_people(communes, sample, seed), sample):
            pass
        rate = sample / (time.perf_counter() - started)
        print(f"generator alone: {rate:,.0f} people/s")

        dbname = url.rsplit("/", 1)[1]
        started, cpu, pg_cpu = time.perf_counter(), time.process_time(), pg_cpu_seconds(dbname)
        written = await seed_population(db, people, seed=seed)
        elapsed = time.perf_counter() - started
        cpu, pg_cpu = time.process_time() - cpu, pg_cpu_seconds(dbname) - pg_cpu
        async with db.unit_of_work() as s:
            stored = await s.scalar(select(func.count()).select_from(Person))
        assert written == stored == people, (written, stored)
        print(f"seed_population: {people:,} people in {elapsed:.1f} s = {people / elapsed:,.0f} people/s; "
              f"load average now {os.getloadavg()[0]:.1f}")
        print(f"  CPU per person: python {cpu / people * 1e6:.1f} us, "
              f"postgres {pg_cpu / people * 1e6:.1f} us -> idle 2-core bound ~{max(cpu, pg_cpu):.0f} s")

        started = time.perf_counter()
        await seed_population(db, people, seed=seed)
        print(f"same seed again (upsert, all unchanged): {time.perf_counter() - started:.1f} s")
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args()
    with throwaway_database("dancu_bench_seed") as url:
        asyncio.run(run(url, args.people, args.seed))


if __name__ == "__main__":
    main()
