"""Checkpoint scans through the device API: verified + recorded passages per second, against PostgreSQL.

One run, all on 127.0.0.1: a throwaway database (units, synthetic people, declarations with real signed
travel passes, an officer with a bearer token assigned to a checkpoint), `uvicorn` with 2 workers, then
Debian's `wrk` (C, one thread) as the load generator:

  1. GET /healthz                                   -> the server's hello-world rate, for the ratio
  2. POST /api/v1/checkpoints/{id}/passages         -> every request a distinct pass and idempotency key

Before the measured run, like a server that has been up for a while: `--history` passages of the last 30
days (default 200,000) and `--warmup` seconds of scans with other passes (default 3), then ANALYZE, as
autovacuum would within a minute. Against empty tables (`--history 0 --warmup 0`) the cached plans of the
batch statements are made for a few rows and kept for the whole run, so each batch scans more as the
tables grow (docs/benchmarks.md, sixth session).

Then the database is checked: passages == number of 201s (nothing lost, nothing extra), no duplicate keys,
one count per passage in passage_counts, two notices per passage, replaying some keys answers 200 with
the same passage, and every audit hash chain verifies.

    .venv/bin/python bench/bench_scan.py [--seconds 10] [--connections 32] [--passes 40000]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import psycopg
from _server import cpu_by_role, cpu_per_request, ensure_wrk, running_server, throwaway_database
from sqlalchemy import insert, select

from dancu.accounts.permissions import Role
from dancu.accounts.schemas import TokenCreate
from dancu.accounts.service import actor_from, create_token, ensure_account
from dancu.audit.models import AuditEvent
from dancu.checkpoints.models import Checkpoint, CheckpointAssignment
from dancu.core.db import Database, utcnow
from dancu.credentials.keyfiles import init_keys
from dancu.credentials.keys import load_keyring
from dancu.credentials.travel_pass import TravelPassClaims, issue_travel_pass
from dancu.declarations.models import Declaration
from dancu.registry.models import Person
from dancu.registry.seed import seed_population
from dancu.units.models import Unit
from dancu.units.service import load_official_units

DB_NAME = "dancu_bench_scan"
LUA = r"""
-- Counters are globals: wrk's done() reads them from each thread with thread:get().
local codes = {}
local threads = {}
counter = 0
created, replayed, other = 0, 0, 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  for line in io.lines(os.getenv("CODES_FILE")) do codes[#codes + 1] = line end
  path = "/api/v1/checkpoints/" .. os.getenv("CHECKPOINT") .. "/passages"
  headers = {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}
  run = os.getenv("RUN")
  stride = tonumber(os.getenv("THREADS"))
  scanned_at = os.getenv("SCANNED_AT")
end

function request()
  local i = (counter * stride + tid - 1) % #codes + 1
  counter = counter + 1
  local body = '{"code":"' .. codes[i] .. '","decision":"confirm","method":"usb","direction":"in",'
    .. '"scanned_at":"' .. scanned_at .. '","idempotency_key":"' .. run .. "-" .. tid .. "-" .. counter .. '"}'
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 200 then replayed = replayed + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("COUNTS %d %d %d\n", t:get("created"), t:get("replayed"), t:get("other")))
  end
end
"""


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    created: int = 0
    replayed: int = 0
    other: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def _ms(value: str) -> float:
    match = re.match(r"([\d.]+)(\w+)", value)
    assert match, value
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match.group(2)]


def run_wrk(
    url: str, *, connections: int, seconds: int, script: str | None = None, env: dict[str, str] | None = None
) -> Load:
    """Debian's wrk, one thread, bounded in time, against loopback only."""
    if not url.startswith("http://127.0.0.1"):
        raise ValueError("benchmarks only target loopback")
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        cmd += ["-s", script]
    import os

    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}, timeout=seconds + 60
    ).stdout
    reqs = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    assert reqs, out
    secs = float(reqs.group(2)) * (60 if reqs.group(3) == "m" else 1)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    load = Load(
        int(reqs.group(1)),
        secs,
        _ms(p50.group(1)) if p50 else 0.0,
        _ms(p99.group(1)) if p99 else 0.0,
        int(non2xx.group(1)) if non2xx else 0,
        sum(int(x) for x in errs.groups()) if errs else 0,
    )
    for line in out.splitlines():
        if line.startswith("COUNTS "):
            c, r, o = (int(x) for x in line.split()[1:])
            load.created += c
            load.replayed += r
            load.other += o
    return load


async def prepare(url: str, data_dir: Path, passes: int) -> dict[str, object]:
    """Units, people, declarations with signed passes, an officer with a token, a checkpoint."""
    init_keys(data_dir / "keys", now=utcnow() - timedelta(days=1))
    keyring = load_keyring(data_dir / "keys")
    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            await load_official_units(s)
        await seed_population(db, passes, seed=11)
        async with db.unit_of_work() as s:
            officer = await ensure_account(
                s,
                username="bench.officer",
                password="bench-password-1",
                role=Role.CHECKPOINT_OFFICER,
                unit_code="00004",
                display_name="bench",
            )
            checkpoint = Checkpoint(name="Trạm kiểm soát Pháp Vân", unit_code="00004", kind="city_gateway")
            s.add(checkpoint)
            await s.flush()
            s.add(CheckpointAssignment(checkpoint_id=checkpoint.id, account_id=officer.id))
            unit = await s.get(Unit, "00004")
            assert unit is not None
            _tok, token = await create_token(s, actor_from(officer, unit), TokenCreate(name="bench device"))
            destination = await s.scalar(
                select(Unit.code).where(Unit.parent_code == "79").order_by(Unit.code).limit(1)
            )  # TP Hồ Chí Minh
            assert destination
            people = (
                await s.execute(
                    select(Person.id, Person.national_id, Person.full_name, Person.dob, Person.current_unit_code)
                    .where(Person.current_unit_code != destination)
                    .limit(passes)
                )
            ).all()
        now = utcnow().replace(microsecond=0)
        rows, codes = [], []
        for pid, nid, name, dob, origin in people:
            pass_id = uuid.uuid4().hex[:16]
            claims = TravelPassClaims.for_person(
                pass_id=pass_id,
                declaration_id=str(pid),
                full_name=name,
                national_id=nid,
                birth_year=dob.year,
                origin=origin,
                destination=destination,
            )
            code = issue_travel_pass(claims, keyring=keyring, now=now, hours=72)
            codes.append(code)
            rows.append(
                {
                    "person_id": pid,
                    "origin_unit_code": origin,
                    "origin_address": "-",
                    "destination_unit_code": destination,
                    "destination_address": "-",
                    "travel_date": now.date(),
                    "transport": "private_car",
                    "purpose": "bench",
                    "symptoms": [],
                    "exposures": [],
                    "attested": True,
                    "status": "valid",
                    "pass_id": pass_id,
                    "pass_code": code,
                    "issued_at": now,
                    "expires_at": now + timedelta(hours=72),
                    "source": "online",
                }
            )
        for start in range(0, len(rows), 5000):
            async with db.unit_of_work() as s:
                await s.execute(insert(Declaration), rows[start : start + 5000])
        return {"token": token, "checkpoint": checkpoint.id, "codes": codes}
    finally:
        await db.dispose()


def add_history(dsn: str, checkpoint: int, n: int) -> None:
    """n passages of the last 30 days (other passes, the register's people, this and other checkpoints), then
    ANALYZE: the table a running system scans into, not an empty one. Statements planned against a table
    that is empty at start-up keep plans made for a handful of rows (see docs/benchmarks.md)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO passages (idempotency_key, checkpoint_id, officer_id, person_id, pass_id, code_kind, "
            "direction, decision, verdict, method, origin_unit_code, destination_unit_code, scanned_at, recorded_at) "
            "SELECT 'history-' || g, CASE WHEN g %% 4 = 0 THEN %(cp)s ELSE %(cp)s + 1 + g %% 50 END, 1, p.id, "
            "md5(g::text)::varchar(16), 'travel_pass', 'in', 'confirm', 'green', 'usb', p.current_unit_code, "
            "p.current_unit_code, now() - interval '1 day' - (g * interval '12 seconds'), "
            "now() - interval '1 day' - (g * interval '12 seconds') "
            "FROM generate_series(1, %(n)s) g "
            "JOIN persons p ON p.id = 1 + g %% (SELECT count(*) FROM persons)",
            {"cp": checkpoint, "n": n},
        )
        conn.execute("ANALYZE")


def check_database(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        one = conn.execute(
            "SELECT count(*), count(DISTINCT idempotency_key), "
            "(SELECT coalesce(sum(count), 0) FROM passage_counts), (SELECT count(*) FROM notices), "
            "(SELECT count(*) FROM audit_events WHERE action = 'passage:record') FROM passages"
        ).fetchone()
    assert one is not None
    return {"passages": one[0], "distinct_keys": one[1], "counted": one[2], "notices": one[3], "batches": one[4]}


def settled(dsn: str) -> dict[str, int]:
    """The counts once the requests still in flight when wrk stopped have been committed."""
    last = check_database(dsn)
    while True:
        time.sleep(1.0)
        now = check_database(dsn)
        if now == last:
            return now
        last = now


def since(before: dict[str, int], now: dict[str, int]) -> dict[str, int]:
    """The counts added since `before` (history and warm-up left out)."""
    return {k: now[k] - before[k] for k in now}


def replay(base: str, token: str, checkpoint: int, dsn: str, n: int) -> tuple[int, int]:
    """Re-send n recorded passages with their keys: each must answer 200 with the passage recorded first."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT p.id, p.idempotency_key, d.pass_code, p.scanned_at FROM passages p "
            "JOIN declarations d ON d.pass_id = p.pass_id ORDER BY p.id LIMIT %s", (n,)
        ).fetchall()
    ok = bad = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        for passage_id, key, code, scanned_at in rows:
            body = {"code": code, "decision": "confirm", "method": "usb", "direction": "in",
                    "scanned_at": scanned_at.isoformat(), "idempotency_key": key}
            r = client.post(f"/api/v1/checkpoints/{checkpoint}/passages", json=body)
            if r.status_code == 200 and r.json()["passage"]["id"] == passage_id:
                ok += 1
            else:
                bad += 1
    return ok, bad


async def audit_intact(url: str) -> tuple[int, bool, str | None]:
    """`dancu audit verify` over every chain: the writers' own chains and the shared ones."""
    from dancu.audit.service import verify_chain

    db = Database(url)
    try:
        async with db.unit_of_work() as s:
            found = await verify_chain(s)
            chains = len(set((await s.scalars(select(AuditEvent.chain).distinct())).all()))
        return chains, found.ok, found.reason
    finally:
        await db.dispose()


def report(args: argparse.Namespace, hello: Load, scans: Load, db: dict[str, int], after: dict[str, int],
           replayed: tuple[int, int], cpu: tuple[str, str], audit: tuple[int, bool, str | None]) -> bool:
    lost = scans.created - db["passages"]  # > 0: a 201 whose passage is not in the database
    in_flight = -lost  # rows whose 201 wrk never read: requests still in flight when it stopped
    ok, bad = replayed
    print()
    print(f"checkpoint scans via API, PostgreSQL, 2 uvicorn workers, wrk 1 thread, {args.connections} connections, "
          f"{args.seconds}s each")
    print(f"{'':34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}{'errors':>8}")
    for name, load in (("hello world (GET /healthz)", hello), ("verified + recorded scans", scans)):
        print(f"{name:34}{load.rps:10.0f}{load.p50_ms:10.2f}{load.p99_ms:10.2f}{load.non_2xx:10d}{load.errors:8d}")
    print(f"ratio scans / hello: {scans.rps / hello.rps:.2f}")
    print(f"CPU per request, hello world: {cpu[0]}")
    print(f"CPU per request, scans:       {cpu[1]}")
    print(f"responses: 201 created {scans.created:,}, 200 replay {scans.replayed:,}, other {scans.other:,}")
    print(f"database: passages {db['passages']:,}, distinct keys {db['distinct_keys']:,}, counted {db['counted']:,}, "
          f"notices {db['notices']:,}, commits {db['batches']:,} "
          f"(~{db['passages'] / max(db['batches'], 1):.1f} passages per commit)")
    print(f"lost (201 without a row): {max(lost, 0)}; recorded while wrk was stopping (no 201 read): "
          f"{max(in_flight, 0)} (at most {args.connections}); duplicate keys: {db['passages'] - db['distinct_keys']}")
    print(f"replayed {ok + bad} recorded keys: {ok} answered 200 with the same passage, {bad} did not; "
          f"passages after the replay: {after['passages']:,} (unchanged: {after['passages'] == db['passages']})")
    print(f"audit log: {audit[0]} chains verified, intact: {audit[1]}" + (f" ({audit[2]})" if audit[2] else ""))
    healthy = (
        audit[1] and lost <= 0 and in_flight <= args.connections and bad == 0 and scans.other == 0 and scans.errors == 0
        and db["passages"] == db["distinct_keys"] == db["counted"] == after["passages"]
        and db["notices"] == 2 * db["passages"]
    )
    print("CHECKS PASSED" if healthy else "CHECKS FAILED")
    return healthy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--passes", type=int, default=40_000)
    parser.add_argument("--replay", type=int, default=200)
    parser.add_argument("--history", type=int, default=200_000,
                        help="passages recorded before the run (0: start from an empty table)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="seconds of scans with other passes before the run, then ANALYZE (0: none)")
    args = parser.parse_args()
    ensure_wrk()
    dsn = f"host=127.0.0.1 port=5432 user=postgres dbname={DB_NAME}"
    with tempfile.TemporaryDirectory(prefix="dancu-bench-scan-") as tmp, throwaway_database(DB_NAME) as url:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        print(f"preparing {args.passes:,} people with signed passes …", flush=True)
        setup = asyncio.run(prepare(url, data_dir, args.passes))
        token, checkpoint, codes = str(setup["token"]), int(setup["checkpoint"]), setup["codes"]  # type: ignore[call-overload]
        if args.history:
            print(f"adding {args.history:,} passages of the last 30 days …", flush=True)
            add_history(dsn, checkpoint, args.history)
        warm = len(codes) // 4 if args.warmup else 0  # type: ignore[arg-type]
        codes_file, warm_file = Path(tmp) / "codes.txt", Path(tmp) / "warm.txt"
        codes_file.write_text("\n".join(codes[warm:]))  # type: ignore[index]
        warm_file.write_text("\n".join(codes[:warm]))  # type: ignore[index]
        script = Path(tmp) / "passages.lua"
        script.write_text(LUA)
        env = {"CODES_FILE": str(codes_file), "TOKEN": token, "CHECKPOINT": str(checkpoint),
               "RUN": uuid.uuid4().hex[:8], "THREADS": "1", "SCANNED_AT": utcnow().isoformat()}
        with running_server(url, workers=2, data_dir=data_dir) as base:
            run_wrk(f"{base}/healthz", connections=8, seconds=2)  # warm-up
            before = check_database(dsn)
            if args.warmup:
                # A server that has been up a while: audit events and passages written, and the tables
                # analysed (as autovacuum does within a minute), which replans the cached statements.
                run_wrk(f"{base}/", connections=args.connections, seconds=args.warmup, script=str(script),
                        env={**env, "CODES_FILE": str(warm_file), "RUN": "warm"})
                before = settled(dsn)
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("ANALYZE")
                time.sleep(0.5)  # that backend gone before the CPU readings start
            cpu0 = cpu_by_role(base)
            hello = run_wrk(f"{base}/healthz", connections=args.connections, seconds=args.seconds)
            cpu1 = cpu_by_role(base)
            scans = run_wrk(f"{base}/", connections=args.connections, seconds=args.seconds, script=str(script),
                            env=env)
            cpu2 = cpu_by_role(base)
            cpu = (cpu_per_request(cpu0, cpu1, hello.requests), cpu_per_request(cpu1, cpu2, scans.requests))
            db = since(before, settled(dsn))
            replayed = replay(base, token, checkpoint, dsn, args.replay)
            after = since(before, check_database(dsn))
        audit = asyncio.run(audit_intact(url))
    if not report(args, hello, scans, db, after, replayed, cpu, audit):
        sys.exit(1)


if __name__ == "__main__":
    main()
