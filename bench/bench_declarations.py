"""Travel declarations submitted per second against PostgreSQL.

Each declaration is handled as the API's request is (declarations/fast_api.py): validate, check the register
(the citizen's household scope, name and date of birth) in a session whose reads need no transaction of
their own (`Database.lookups`), sign the 72-hour pass, hand the row, its two commune notices and its audit
event to the group-commit writer, wait for its commit, build the reply. Measured through the service layer
(N concurrent asyncio tasks on one pool, in one or more processes) and, with --http, through
POST /api/v1/declarations on a real uvicorn server (wrk).

    .venv/bin/python bench/bench_declarations.py [--people 20000] [--count 8000] [--tasks 32]
        [--processes 1] [--http] [--seconds 10] [--connections 64] [--workers 2]

On PostgreSQL the service layer runs with a DeclarationWriter (group commit), as the API and pages do.
Figures and their history: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import cpu_by_role, cpu_per_request, ensure_wrk, running_server, throwaway_database, wrk

import dancu.models  # noqa: F401  (every mapped table, for spawned worker processes)
from dancu.accounts.permissions import Actor, Role, permissions_for
from dancu.app import tune_gc
from dancu.core.db import Database
from dancu.credentials.keyfiles import init_keys
from dancu.credentials.keys import load_keyring
from dancu.declarations.schemas import DeclarationIn
from dancu.declarations.service import declare, local_today
from dancu.declarations.writer import DeclarationWriter
from dancu.units.service import load_official_units

Citizen = tuple[int, int, str, str, str]  # account id, person id, national id, current unit, unit path


async def prepare(url: str, people: int) -> list[Citizen]:
    """Units, `people` synthetic persons (the register seeder's COPY path) and one citizen account each."""
    from sqlalchemy import text

    from dancu.registry.seed import seed_population

    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            await load_official_units(s)
        await seed_population(db, people, seed=11)
        async with db.unit_of_work() as s:
            await s.execute(text(
                "INSERT INTO accounts (username, display_name, password_hash, role, unit_code, person_id, "
                "is_active, created_at) SELECT national_id, full_name, NULL, 'citizen', current_unit_code, id, "
                "true, now() FROM persons"))
            rows = (await s.execute(text(
                "SELECT a.id, p.id, p.national_id, p.current_unit_code, u.path FROM accounts a "
                "JOIN persons p ON p.id = a.person_id JOIN units u ON u.code = p.current_unit_code"))).all()
            await s.execute(text("ANALYZE"))
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    finally:
        await db.dispose()


def _actor(c: Citizen) -> Actor:
    return Actor(account_id=c[0], username=c[2], display_name=c[2], role=Role.CITIZEN, unit_code=c[3],
                 unit_path=c[4], person_id=c[1], permissions=permissions_for(Role.CITIZEN))


def _payload(c: Citizen, destination: str, travel_in_days: int) -> dict[str, object]:
    return {
        "national_id": c[2], "origin_unit_code": c[3], "origin_address": "12 Phố Huế",
        "destination_unit_code": destination, "destination_address": "5 Lê Lợi",
        "travel_date": (local_today() + timedelta(days=travel_in_days)).isoformat(), "transport": "motorbike",
        "vehicle_plate": "29B1-234.56", "purpose": "Thăm gia đình", "symptoms": ["cough"], "exposures": [],
        "attested": True,
    }


async def _run_service(url: str, keys_dir: str, citizens: list[Citizen], communes: list[str], count: int,
                       tasks: int) -> tuple[int, float, list[float]]:
    keyring = load_keyring(Path(keys_dir))
    db = Database(url)
    rng = random.Random(len(citizens))
    jobs = []
    for i in range(count):
        c = citizens[i % len(citizens)]
        destination = rng.choice(communes)
        while destination == c[3]:
            destination = rng.choice(communes)
        jobs.append((_actor(c), DeclarationIn.model_validate(_payload(c, destination, i % 7))))
    latencies: list[float] = []
    done = 0
    writer = DeclarationWriter(db)  # as the API and the pages do on PostgreSQL: group commit
    tune_gc()  # as a server worker does at start-up
    try:
        async with db.unit_of_work() as s:  # warm the pool and the unit cache
            await declare(s, jobs[0][0], jobs[0][1], keyring=keyring, writer=writer)
        queue = iter(jobs)

        async def worker() -> None:
            nonlocal done
            for who, data in queue:
                t0 = time.perf_counter()
                async with db.lookups() as s:  # as POST /api/v1/declarations does (declarations/fast_api.py)
                    await declare(s, who, data, keyring=keyring, writer=writer)
                latencies.append(time.perf_counter() - t0)
                done += 1

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"  process: {done:,} in {elapsed:.2f}s, {cpu / max(done, 1) * 1000:.2f} ms CPU per declaration "
              f"in this process, {writer.batches:,} commits (~{writer.items / max(writer.batches, 1):.1f} "
              f"declarations per commit)")
        return done, elapsed, latencies
    finally:
        await db.dispose()


def _process(args: tuple[str, str, list[Citizen], list[str], int, int]) -> tuple[int, float, list[float]]:
    return asyncio.run(_run_service(*args))


def service_bench(url: str, keys_dir: str, citizens: list[Citizen], communes: list[str], count: int,
                  tasks: int, processes: int) -> None:
    share = [citizens[i::processes] for i in range(processes)]
    args = [(url, keys_dir, share[i], communes, count // processes, tasks) for i in range(processes)]
    if processes == 1:
        results = [_process(args[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            results = pool.map(_process, args)
    total = sum(r[0] for r in results)
    seconds = max(r[1] for r in results)
    lat = sorted(x for r in results for x in r[2])
    p50, p99 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000
    print(f"service layer: {total:,} declarations, {processes} process(es) x {tasks} tasks, "
          f"{seconds:.2f}s -> {total / seconds:,.0f} declarations/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"mean {statistics.fmean(lat) * 1000:.1f} ms)")


LUA = """
local rows = {}
for line in io.lines(os.getenv("ROWS_FILE")) do rows[#rows + 1] = line end
local today = os.getenv("TODAY")
request = function()
  local token, nid, origin, dest = rows[math.random(#rows)]:match("([^\\t]+)\\t([^\\t]+)\\t([^\\t]+)\\t([^\\t]+)")
  local body = '{"national_id":"' .. nid .. '","origin_unit_code":"' .. origin ..
    '","origin_address":"12 Pho Hue","destination_unit_code":"' .. dest ..
    '","destination_address":"5 Le Loi","travel_date":"' .. today ..
    '","transport":"motorbike","vehicle_plate":"29B1-234.56","purpose":"work","attested":true}'
  return wrk.format("POST", "/api/v1/declarations",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
"""


async def _tokens(url: str, citizens: list[Citizen], n: int) -> list[str]:
    from dancu.accounts.models import ApiToken
    from dancu.accounts.security import new_token, token_hash

    db = Database(url)
    try:
        plain = [new_token("dct") for _ in range(n)]
        async with db.unit_of_work() as s:
            s.add_all(ApiToken(account_id=c[0], name="bench", token_hash=token_hash(p), prefix=p[:10])
                      for c, p in zip(citizens, plain, strict=False))
        return plain
    finally:
        await db.dispose()


def http_bench(url: str, keys_dir: Path, citizens: list[Citizen], communes: list[str], seconds: int,
               connections: int, workers: int) -> None:
    ensure_wrk()
    sample = citizens[:5000]
    tokens = asyncio.run(_tokens(url, sample, len(sample)))
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        rows = Path(tmp) / "rows.tsv"
        rows.write_text("\n".join(
            f"{t}\t{c[2]}\t{c[3]}\t{rng.choice([d for d in communes[:50] if d != c[3]])}"
            for t, c in zip(tokens, sample, strict=True)))
        script = Path(tmp) / "declare.lua"
        script.write_text(LUA)
        data_dir = keys_dir.parent
        with running_server(url, workers=workers, data_dir=data_dir) as base:
            wrk(f"{base}/healthz", connections=8, seconds=2)
            env = {"ROWS_FILE": str(rows), "TODAY": local_today().isoformat()}
            wrk(f"{base}/", connections=8, seconds=2, script=str(script), env=env)  # warm-up
            before = cpu_by_role(base)
            r = wrk(f"{base}/", connections=connections, seconds=seconds, script=str(script), env=env)
            cpu = cpu_per_request(before, cpu_by_role(base), r.requests)
    print(f"HTTP API (POST /api/v1/declarations, {workers} uvicorn workers, {connections} connections, "
          f"{seconds}s): {r.rps:,.0f} declarations/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
          f"non-2xx {r.non_2xx}, socket errors {r.errors}")
    print(f"  CPU per declaration: {cpu}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--count", type=int, default=8_000, help="declarations in the service-layer run")
    parser.add_argument("--tasks", type=int, default=32, help="concurrent asyncio tasks per process")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--http", action="store_true", help="also measure the HTTP API with wrk")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with throwaway_database("dancu_bench_declarations") as url, tempfile.TemporaryDirectory() as tmp:
        keys_dir = Path(tmp) / "keys"
        init_keys(keys_dir)
        citizens = asyncio.run(prepare(url, args.people))
        random.Random(3).shuffle(citizens)
        communes = sorted({c[3] for c in citizens})
        print(f"PostgreSQL, {len(citizens):,} people with citizen accounts, {len(communes):,} communes")
        service_bench(url, str(keys_dir), citizens, communes, args.count, args.tasks, args.processes)
        if args.http:
            http_bench(url, keys_dir, citizens, communes, args.seconds, args.connections, args.workers)


if __name__ == "__main__":
    main()
