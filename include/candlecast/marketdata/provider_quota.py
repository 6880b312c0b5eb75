"""A sliding-window request limiter shared by every process through Redis.

The window is kept as a sorted set of request times (Redis server clock), so concurrent tasks on
any number of processes never exceed `limit` requests in any `window` seconds.

A request is counted from the moment it takes its slot until `window` seconds after it completed:
while in flight its entry sits in the future (its deadline), and `complete` moves it to the time
the answer came back. However long a starved process takes between taking a slot and its request
reaching the provider, that arrival lies between the two, so the provider's own window never
holds more than `limit` requests.

A `clock` given to the limiter replaces the Redis server clock (tests move time by hand; every
process sharing a key must then use it).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import redis

_NOW = """
local now = tonumber(ARGV[#ARGV])  -- the limiter's clock, '' for the server's
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
"""

_ACQUIRE = (
    _NOW
    + """
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.floor((window + tonumber(ARGV[4])) / 1000) + 1000)
  return 0
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
if oldest > now then
  return 100000  -- every slot is in flight: look again when one may have completed
end
return math.max(oldest + window - now, 1000)
"""
)

# The answer came back: the request counts from now on, for one window.
_COMPLETE = (
    _NOW
    + """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
end
return 0
"""
)

# A request still in flight after this long (a killed process) stops holding its slot.
IN_FLIGHT_SECONDS = 300.0

# The provider counts a request when it arrives, a little after we count it: keep a margin.
SAFETY_MARGIN_SECONDS = 1.0


class SlidingWindowLimiter:
    def __init__(
        self,
        client: redis.Redis,
        key: str,
        limit: int,
        window_seconds: float = 60.0,
        clock: Callable[[], float] | None = None,
    ):
        self.client = client
        self.clock = clock
        self.key = key
        self.limit = limit
        self.window_us = int((window_seconds + SAFETY_MARGIN_SECONDS) * 1_000_000)
        self.in_flight_us = int(IN_FLIGHT_SECONDS * 1_000_000)
        self._script = client.register_script(_ACQUIRE)
        self._complete = client.register_script(_COMPLETE)

    def _now(self) -> str:
        """The last argument of both scripts: the clock's time (µs), '' for the server's."""
        return "" if self.clock is None else str(round(self.clock() * 1_000_000))

    def _try(self, token: str) -> float:
        """0 when a slot was taken, else seconds to wait before trying again."""
        args = [self.limit, self.window_us, token, self.in_flight_us, self._now()]
        return int(self._script(keys=[self.key], args=args)) / 1_000_000

    async def acquire(self) -> str:
        """Take a slot; returns its token, to hand to `complete` when the answer is back."""
        token = uuid.uuid4().hex
        while (wait := self._try(token)) > 0:
            await asyncio.sleep(wait + 0.01)
        return token

    def acquire_blocking(self) -> str:
        token = uuid.uuid4().hex
        while (wait := self._try(token)) > 0:
            time.sleep(wait + 0.01)
        return token

    def complete(self, token: str) -> None:
        self._complete(keys=[self.key], args=[token, self._now()])
