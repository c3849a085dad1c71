"""`dancu notifications ...`: deliver webhook notices (one pass, or a loop until interrupted)."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Annotated

import httpx
import typer

from dancu.config import get_settings
from dancu.core.db import Database
from dancu.notifications.worker import REQUEST_TIMEOUT, deliver_due, run_delivery_loop

notifications_app = typer.Typer(help="Notices to communes: webhook delivery.", no_args_is_help=True)


@notifications_app.callback()
def _group() -> None:
    """Notices to communes: webhook delivery."""


async def _deliver(url: str, loop: bool, limit: int, interval: float) -> int:
    db = Database(url)
    try:
        if not loop:
            async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, follow_redirects=False) as client:
                return await deliver_due(db, limit=limit, client=client)
        stop = asyncio.Event()
        running = asyncio.get_running_loop()
        if sys.platform != "win32":  # the event loop has no signal handlers on Windows
            for sig in (signal.SIGINT, signal.SIGTERM):
                running.add_signal_handler(sig, stop.set)
        await run_delivery_loop(db, stop, interval=interval, limit=limit)
        return 0
    finally:
        await db.dispose()


@notifications_app.command("deliver")
def deliver(
    loop: Annotated[bool, typer.Option("--loop", help="Keep delivering until SIGINT/SIGTERM.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Deliveries per pass.")] = 100,
    interval: Annotated[float, typer.Option(min=0.1, help="Idle seconds between passes (--loop).")] = 2.0,
) -> None:
    """Send due webhook deliveries (signed POSTs), retrying failures with backoff."""
    taken = asyncio.run(_deliver(get_settings().database_url, loop, limit, interval))
    if not loop:
        typer.echo(f"{taken} deliveries processed")
