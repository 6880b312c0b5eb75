"""A clock the test moves by hand, for code that takes a `clock` (and an async `sleep`): time
passes when the test says so, never because the machine was slow."""

from __future__ import annotations

import asyncio
import threading


class ManualClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []  # every `sleep` asked for, in order

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    async def sleep(self, seconds: float) -> None:
        """An asyncio.sleep that moves this clock instead of waiting."""
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)
