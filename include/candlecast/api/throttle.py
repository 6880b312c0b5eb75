"""Per-key token buckets in Redis: `burst` requests at once, refilled at `rate_per_minute`.

One Lua script reads, refills and takes a token atomically on the Redis server clock, so any
number of service workers share one bucket per key. Redis being unreachable lets requests
through (logged once per outage): a limiter must not take forecasts down with it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
import redis.asyncio

log = logging.getLogger(__name__)

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local per_us = tonumber(ARGV[1]) / 60000000
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
if tokens == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - tonumber(state[2])) * per_us)
end
local allowed = 0
local wait_us = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_us = math.ceil((1 - tokens) / per_us)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / per_us / 1000) + 1000)
return {allowed, wait_us, math.floor(tokens)}
"""

# After Redis failed, requests pass without asking it for this long (no timeout per request).
RETRY_REDIS_AFTER_SECONDS = 5.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until a token is available; 0 when allowed
    remaining: int  # whole tokens left after this request
    limited: bool = True  # False when Redis was unreachable and the request passed unchecked


def bucket_key(name: str) -> str:
    return f"candlecast:throttle:{name}"


def _decision(reply: list) -> Decision:
    allowed, wait_us, remaining = (int(v) for v in reply)
    return Decision(bool(allowed), wait_us / 1_000_000, remaining)


class _FailOpen:
    def __init__(self) -> None:
        self._down_since: float | None = None

    def skip(self) -> bool:
        return (
            self._down_since is not None
            and time.monotonic() - self._down_since < RETRY_REDIS_AFTER_SECONDS
        )

    def failed(self, error: Exception) -> Decision:
        if self._down_since is None:
            log.error("rate limiter: Redis unreachable, requests pass unlimited: %s", error)
        self._down_since = time.monotonic()
        return self.unchecked()

    def succeeded(self) -> None:
        if self._down_since is not None:
            log.warning("rate limiter: Redis reachable again, limits apply")
            self._down_since = None

    @staticmethod
    def unchecked() -> Decision:
        return Decision(True, 0.0, 0, limited=False)


class TokenBucket:
    """Blocking client; `AsyncTokenBucket` is the same bucket for an event loop."""

    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_TAKE)
        self._fail_open = _FailOpen()

    def take(self, name: str, rate_per_minute: int, burst: int) -> Decision:
        if self._fail_open.skip():
            return _FailOpen.unchecked()
        try:
            reply = self._script(keys=[bucket_key(name)], args=[rate_per_minute, burst])
        except (redis.RedisError, OSError) as error:
            return self._fail_open.failed(error)
        self._fail_open.succeeded()
        return _decision(reply)


class AsyncTokenBucket:
    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._script = client.register_script(_TAKE)
        self._fail_open = _FailOpen()

    async def take(self, name: str, rate_per_minute: int, burst: int) -> Decision:
        if self._fail_open.skip():
            return _FailOpen.unchecked()
        try:
            reply = await self._script(keys=[bucket_key(name)], args=[rate_per_minute, burst])
        except (redis.RedisError, OSError) as error:
            return self._fail_open.failed(error)
        self._fail_open.succeeded()
        return _decision(reply)
