"""Webhook delivery: claim due deliveries, POST them signed, record the outcome, retry with backoff.

A pass runs in three steps so that no transaction stays open across the network: (1) claim due rows
(PostgreSQL: FOR UPDATE SKIP LOCKED, so several workers never take the same row) and lease them for
LEASE; (2) send them concurrently; (3) record each outcome. If a worker dies between (1) and (3) its
rows become due again when the lease ends: delivery is at least once (receivers de-duplicate on
X-Dancu-Delivery). 2xx is delivered; anything else (other status, timeout, refused connection) is
retried after BACKOFF_SECONDS[attempt] ± 20 % jitter, and given up (failed) after MAX_ATTEMPTS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from dancu.core.db import Database, utcnow
from dancu.notifications import repository as repo
from dancu.notifications.webhooks import payload, signed_headers

log = logging.getLogger("dancu.webhooks")

BACKOFF_SECONDS = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1  # then the delivery is failed (about 11 h after the first try)
JITTER = 0.2
LEASE = timedelta(minutes=2)
REQUEST_TIMEOUT = 10.0
CONCURRENCY = 10


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta | None:
    """The wait after the `attempts`-th failed attempt, or None when it was the last one allowed."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = BACKOFF_SECONDS[attempts - 1]
    return timedelta(seconds=base * (rng or random).uniform(1 - JITTER, 1 + JITTER))


@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: int
    url: str
    secret: str
    body: bytes


async def _send(client: httpx.AsyncClient, job: _Job, sem: asyncio.Semaphore) -> str | None:
    """None when delivered; otherwise a short description of the failure."""
    async with sem:
        headers = signed_headers(job.secret, job.body, job.delivery_id)
        try:
            r = await client.post(job.url, content=job.body, headers=headers, timeout=REQUEST_TIMEOUT,
                                  follow_redirects=False)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__
        except Exception as exc:  # e.g. a URL httpx refuses; must not kill the pass
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= r.status_code < 300:
            return None
        return f"HTTP {r.status_code}"


async def deliver_due(db: Database, *, now: datetime | None = None, limit: int = 100,
                      client: httpx.AsyncClient) -> int:
    """One pass: send up to `limit` due deliveries; returns how many were taken (sent or given up)."""
    at = now or utcnow()
    jobs: list[_Job] = []
    outcomes: dict[int, str | None] = {}
    final: set[int] = set()
    async with db.unit_of_work() as s:
        claimed = await repo.claim_due(s, at, limit, at + LEASE)
        if not claimed:
            return 0
        rows = await repo.notice_rows_unscoped(s, {d.notice_id for d, _ in claimed})
        for delivery, hook in claimed:
            row = rows.get(delivery.notice_id)
            if not hook.active or row is None:
                outcomes[delivery.id] = "webhook deactivated" if not hook.active else "notice gone"
                final.add(delivery.id)
                continue
            jobs.append(_Job(delivery.id, hook.url, hook.secret, payload(delivery.id, row)))
    sem = asyncio.Semaphore(CONCURRENCY)
    results = await asyncio.gather(*(_send(client, job, sem) for job in jobs))
    outcomes.update({job.delivery_id: result for job, result in zip(jobs, results, strict=True)})
    done_at = now or utcnow()
    async with db.unit_of_work() as s:
        deliveries = await repo.deliveries_by_id(s, list(outcomes))
        for delivery_id, error in outcomes.items():
            d = deliveries[delivery_id]
            if delivery_id in final:
                d.status, d.last_error = "failed", error
                continue
            d.attempts += 1
            if error is None:
                d.status, d.delivered_at, d.last_error = "delivered", done_at, None
                continue
            d.last_error = error
            delay = retry_delay(d.attempts)
            if delay is None:
                d.status = "failed"
                log.warning("webhook delivery failed", extra={"delivery": d.id, "error": error})
            else:
                d.next_attempt_at = done_at + delay
        await s.flush()
    return len(outcomes)


async def run_delivery_loop(db: Database, stop: asyncio.Event, *, interval: float = 2.0, limit: int = 100,
                            client: httpx.AsyncClient | None = None) -> None:
    """Deliver until `stop` is set: back to back while there is a backlog, else every `interval` seconds."""
    own = client is None
    http = client or httpx.AsyncClient(timeout=REQUEST_TIMEOUT, follow_redirects=False)
    try:
        while not stop.is_set():
            try:
                taken = await deliver_due(db, limit=limit, client=http)
            except Exception:
                log.exception("webhook delivery pass failed")
                taken = 0
            if taken >= limit:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        if own:
            await http.aclose()


@asynccontextmanager
async def delivery_worker(db: Database, *, interval: float = 2.0) -> AsyncIterator[None]:
    """Run the delivery loop beside the app (use in the lifespan); stops it cleanly on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_delivery_loop(db, stop, interval=interval), name="webhook-delivery")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, REQUEST_TIMEOUT + 5)
        except TimeoutError:
            log.warning("webhook delivery loop did not stop in time; cancelled")
