"""Shared benchmark plumbing: throwaway PostgreSQL databases, a real uvicorn server, and wrk runs."""

from __future__ import annotations

import os
import re
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
