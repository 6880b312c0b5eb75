"""One provider call per series at a time, within a process and across processes.

A thread takes the series' in-process lock, then tries the Redis lock (SET NX PX). Who gets the
Redis lock fetches; who does not polls the cache until the holder's result appears (or the lock
lapses). When Redis is down the in-process lock alone still holds within the process.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from candlecast.ops import GuardedRedis

T = TypeVar("T")

LOCK_MILLISECONDS = 15_000
POLL_SECONDS = 0.05

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class KeyedLocks:
    """One threading.Lock per key, created on demand and dropped when nobody holds it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    def users(self) -> int:
        """Threads holding or waiting for a key's lock, over every key."""
        with self._guard:
            return sum(users for _, users in self._locks.values())

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class SingleFlight:
    def __init__(self, cache: GuardedRedis, lock_ms: int = LOCK_MILLISECONDS) -> None:
        self.cache = cache
        self.lock_ms = lock_ms
        self.local = KeyedLocks()

    def run(self, key: str, lookup: Callable[[], T | None], produce: Callable[[], T]) -> T:
        """`lookup()` if it finds a result, else `produce()` by one caller at a time."""
        with self.local.hold(key):
            found = lookup()
            if found is not None:
                return found
            lock_key = f"candlecast:lock:{key}"
            token = uuid.uuid4().hex
            deadline = time.monotonic() + self.lock_ms / 1000
            while True:
                acquired = self.cache.call(
                    "set", lock_key, token, nx=True, px=self.lock_ms, fallback="unavailable"
                )
                if acquired:  # True, or Redis is down: the local lock is all there is
                    try:
                        return produce()
                    finally:
                        if acquired is True:
                            self.cache.call("eval", _RELEASE, 1, lock_key, token)
                if time.monotonic() > deadline:
                    return produce()
                time.sleep(POLL_SECONDS)
                found = lookup()
                if found is not None:
                    return found
