"""Person lookup by ID through the API: requests/s and p99 at 32 connections, against PostgreSQL.

Each lookup is an audited read (record_event in the same transaction), so it includes one commit.
In the same run, GET /healthz gives the server's hello-world rate for the ratio.

    .venv/bin/python bench/bench_lookup.py [--people 200000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import ensure_wrk, running_server, throwaway_database, wrk

from dancu.accounts.permissions import Role
from dancu.accounts.schemas import TokenCreate
from dancu.accounts.service import actor_from, create_token, ensure_account
from dancu.core.db import Database
from dancu.registry.models import Person
from dancu.units.service import load_official_units

LUA = """
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local token = os.getenv("TOKEN")
request = function()
  local id = ids[math.random(#ids)]
  local path = "/api/v1/persons/by-national-id/" .. id .. "?purpose=verification"
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end
"""


async def prepare(url: str, people: int) -> tuple[str, list[str]]:
    from sqlalchemy import select

    from dancu.registry.seed import seed_population
    from dancu.units.models import Unit

    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            await load_official_units(s)
        await seed_population(db, people, seed=7)
        async with db.unit_of_work() as s:
            account = await ensure_account(
                s,
                username="bench.national",
                password="bench-password-1",
                role=Role.OFFICIAL,
                unit_code="VN",
                display_name="bench",
            )
            unit = await s.get(Unit, "VN")
            assert unit is not None
            _tok, plain = await create_token(s, actor_from(account, unit), TokenCreate(name="bench"))
            ids = list((await s.scalars(select(Person.national_id).limit(20000))).all())
        return plain, ids
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    ensure_wrk()
    with throwaway_database("dancu_bench_lookup") as url:
        token, ids = asyncio.run(prepare(url, args.people))
        random.shuffle(ids)
        with tempfile.TemporaryDirectory() as tmp:
            ids_file = Path(tmp) / "ids.txt"
            ids_file.write_text("\n".join(ids))
            script = Path(tmp) / "lookup.lua"
            script.write_text(LUA)
            with running_server(url, workers=2) as base:
                wrk(f"{base}/healthz", connections=8, seconds=2)  # warm-up
                hello = wrk(f"{base}/healthz", connections=args.connections, seconds=args.seconds)
                look = wrk(
                    f"{base}/",
                    connections=args.connections,
                    seconds=args.seconds,
                    script=str(script),
                    env={"IDS_FILE": str(ids_file), "TOKEN": token},
                )
    print(
        f"person lookup by ID via API, PostgreSQL, {args.people:,} people, 2 uvicorn workers, "
        f"{args.connections} connections, {args.seconds}s each"
    )
    print(f"{'':24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, r in (("hello world (/healthz)", hello), ("lookup + audit", look)):
        print(f"{name:24}{r.rps:10.0f}{r.p50_ms:10.2f}{r.p99_ms:10.2f}{r.non_2xx:10d}")
    print(f"ratio lookup / hello: {look.rps / hello.rps:.2f}")


if __name__ == "__main__":
    main()
