"""A sliding-window request limiter shared by every process through Redis.

The window is kept as a sorted set of request times (Redis server clock), so concurrent tasks on
any number of processes never exceed `limit` requests in any `window` seconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import redis

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.floor(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now
"""

# The provider counts a request when it arrives, a little after we count it: keep a margin.
SAFETY_MARGIN_SECONDS = 1.0


class SlidingWindowLimiter:
    def __init__(self, client: redis.Redis, key: str, limit: int, window_seconds: float = 60.0):
        self.client = client
        self.key = key
        self.limit = limit
        self.window_us = int((window_seconds + SAFETY_MARGIN_SECONDS) * 1_000_000)
        self._script = client.register_script(_ACQUIRE)

    def _try(self) -> float:
        """0 when a slot was taken, else seconds to wait before trying again."""
        wait_us = int(
            self._script(keys=[self.key], args=[self.limit, self.window_us, uuid.uuid4().hex])
        )
        return wait_us / 1_000_000

    async def acquire(self) -> None:
        while (wait := self._try()) > 0:
            await asyncio.sleep(wait + 0.01)

    def acquire_blocking(self) -> None:
        while (wait := self._try()) > 0:
            time.sleep(wait + 0.01)
