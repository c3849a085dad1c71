"""A small in-process cache of answers that may be a few seconds stale (tokens, assignments)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
MAX_ENTRIES = 50_000


class TtlCache(Generic[K, V]):
    """Answers kept for `ttl` seconds. A miss is loaded once: concurrent requests for the same key wait for
    that one load instead of stampeding the database when an entry expires under load. A load that raises
    is not cached (the next request tries again)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        hit = self.get(key)
        if hit is not None:
            return hit
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(load())
            self._loading[key] = task

            def done(t: asyncio.Task[V]) -> None:
                self._loading.pop(key, None)
                if not t.cancelled() and t.exception() is None:
                    self.put(key, t.result())

            task.add_done_callback(done)
        return await asyncio.shield(task)

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()
