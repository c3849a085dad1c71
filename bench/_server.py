"""Shared benchmark plumbing: throwaway PostgreSQL databases, a real uvicorn server, and wrk runs."""

from __future__ import annotations

import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

PG_ADMIN = os.environ.get("DANCU_BENCH_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_URL = os.environ.get("DANCU_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")


@contextmanager
def throwaway_database(name: str) -> Iterator[str]:
    """A migrated PostgreSQL database with the official units, dropped afterwards."""
    from dancu.db import upgrade

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.format(name=name)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(db_url: str, *, workers: int = 2, data_dir: Path | None = None) -> Iterator[str]:
    """uvicorn with uvloop/httptools, N workers, on a free loopback port; stopped afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="dancu-bench-"))
    data = data_dir or tmp
    port = free_port()
    env = {**os.environ, "DANCU_DATABASE_URL": db_url, "DANCU_DATA_DIR": str(data), "DANCU_ENV": "test",
           "DANCU_LOG_LEVEL": "WARNING", "DANCU_SECRET_KEY": "bench-secret-" + "x" * 32}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "dancu.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--no-access-log", "--loop", "uvloop", "--http", "httptools"],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp / "server.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp / "server.log").read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def _ms(value: str) -> float:
    num, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(num) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, *, connections: int = 32, seconds: int = 10, threads: int = 1, script: str | None = None,
        env: dict[str, str] | None = None) -> WrkResult:
    """Run Debian's wrk against a loopback URL (bounded in time) and parse its latency distribution."""
    if not url.startswith("http://127.0.0.1"):
        raise ValueError("benchmarks only target loopback")
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, **(env or {})},
                         timeout=seconds + 60).stdout
    reqs = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    assert reqs, out
    secs = float(reqs.group(2)) * (60 if reqs.group(3) == "m" else 1)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        requests=int(reqs.group(1)), seconds=secs, rps=int(reqs.group(1)) / secs,
        p50_ms=_ms(p50.group(1)) if p50 else 0.0, p99_ms=_ms(p99.group(1)) if p99 else 0.0,
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        errors=sum(int(x) for x in errs.groups()) if errs else 0,
    )


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


# --- CPU per request ----------------------------------------------------------------------------------------
# Requests per second on a shared 2-core VM swing by 30 % between runs; the CPU time each process spent
# per request (user + system, from /proc) is steadier, and says where the time goes.

_TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, str, str, float]]:
    """pid -> (parent pid, name, command line, CPU seconds so far) for every process we can read."""
    found: dict[int, tuple[int, str, str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry)] = (int(fields[1]), name, cmdline, (int(fields[11]) + int(fields[12])) / _TICK)
    return found


def cpu_by_role(base_url: str) -> dict[str, float]:
    """CPU seconds so far of the uvicorn server behind `base_url` (master and workers), of PostgreSQL's
    processes and of this process's finished children (wrk, run between two readings). A PostgreSQL backend
    that exits between two readings takes its share with it."""
    port = base_url.rsplit(":", 1)[1]
    procs = _processes()
    masters = {pid for pid, (_, _, cmd, _) in procs.items() if "uvicorn" in cmd and f"--port {port}" in cmd}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {"server": 0.0, "postgres": 0.0, "wrk": children.ru_utime + children.ru_stime}
    for pid, (ppid, name, cmd, cpu) in procs.items():
        if pid in masters or ppid in masters:
            out["server"] += cpu
        elif name == "postgres" or cmd.startswith("postgres"):
            out["postgres"] += cpu
    return out


def postgres_cpu(dbname: str) -> float:
    """CPU seconds so far of the live PostgreSQL backends serving `dbname` (one that exits takes its share)."""
    return sum(cpu for _, _, cmd, cpu in _processes().values() if cmd.startswith("postgres:") and f" {dbname} " in cmd)


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> str:
    """'server 612 µs + postgres 301 µs + wrk 40 µs = 953 µs' per request between two readings."""
    per = {k: (after[k] - before.get(k, 0.0)) / max(requests, 1) * 1e6 for k in after}
    return " + ".join(f"{k} {v:,.0f} µs" for k, v in per.items()) + f" = {sum(per.values()):,.0f} µs"
