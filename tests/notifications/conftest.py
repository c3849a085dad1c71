"""Helpers for the notices tests: movements between real units, and a clean webhook cache per test."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.notifications.service import NewNotice, invalidate_webhook_cache, notify_movement


@pytest.fixture(autouse=True)
def _fresh_webhook_cache() -> Iterator[None]:
    # Webhooks created in a rolled-back test transaction must not stay cached for the next test.
    invalidate_webhook_cache()
    yield
    invalidate_webhook_cache()


async def move(session: AsyncSession, person_id: int, origin: str, destination: str, *,
               travel_date: date = date(2021, 8, 12), source: str = "declaration",
               checkpoint_id: int | None = None) -> list[NewNotice]:
    return await notify_movement(session, source=source, person_id=person_id, origin_unit_code=origin,
                                 destination_unit_code=destination, travel_date=travel_date,
                                 checkpoint_id=checkpoint_id)


async def eventually(condition: Callable[[], object], seconds: float = 10.0) -> None:
    """Wait until `condition()` is true (state changed by another thread or task)."""
    async with asyncio.timeout(seconds):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)
