"""Per-key token buckets in Redis: `burst` requests at once, refilled at `rate_per_minute`.

One Lua script reads, refills and takes a token atomically on the Redis server clock, so any
number of service workers share one bucket per key (a `clock` given to a bucket replaces both
that clock and the local one its leases and outages are timed by: tests move time by hand).
Redis being unreachable lets requests through (logged once per outage): a limiter must not take
forecasts down with it.

A service worker (`AsyncTokenBucket`) takes a key's tokens a few at a time (`lease_size`: at most
1 % of the burst and 0.1 s of the rate, so a key with a burst under 200 is asked for every
request, as before) and spends them without asking Redis again, for up to `LEASE_SECONDS`. A
token is always taken from the shared bucket before it is spent, so a limit is never exceeded;
tokens a worker leased and did not spend in time are lost, which is at most stricter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
import redis.asyncio

log = logging.getLogger(__name__)

_TAKE = """
local now = tonumber(ARGV[4] or '')
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local per_us = tonumber(ARGV[1]) / 60000000
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3] or '1')
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
  allowed = math.min(wanted, math.floor(tokens))
  tokens = tokens - allowed
else
  wait_us = math.ceil((1 - tokens) / per_us)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / per_us / 1000) + 1000)
return {allowed, wait_us, math.floor(tokens)}
"""

# After Redis failed, requests pass without asking it for this long (no timeout per request).
RETRY_REDIS_AFTER_SECONDS = 5.0
LEASE_SHARE_OF_BURST = 100  # a lease is at most 1 / this of the burst
LEASE_SECONDS_OF_RATE = 0.1  # and at most this many seconds' worth of the rate
LEASE_SECONDS = 1.0  # leased tokens not spent by then are dropped


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
    return Decision(allowed > 0, wait_us / 1_000_000, remaining)


def lease_size(rate_per_minute: int, burst: int) -> int:
    """Tokens a worker takes at once for a key: 1 unless the key's limits are high."""
    by_rate = int(rate_per_minute * LEASE_SECONDS_OF_RATE / 60)
    return max(1, min(burst // LEASE_SHARE_OF_BURST, by_rate))


@dataclass
class _Lease:
    tokens: int
    remaining: int  # the bucket's whole tokens after the lease was taken
    until: float


Clock = Callable[[], float]  # seconds


def _script_args(rate_per_minute: int, burst: int, wanted: int, clock: Clock | None) -> list:
    """The script's arguments; with a clock, its time (µs) instead of the Redis server's."""
    args = [rate_per_minute, burst, wanted]
    return args if clock is None else [*args, round(clock() * 1_000_000)]


class _FailOpen:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._down_since: float | None = None

    def skip(self) -> bool:
        return (
            self._down_since is not None
            and self._clock() - self._down_since < RETRY_REDIS_AFTER_SECONDS
        )

    def failed(self, error: Exception) -> Decision:
        if self._down_since is None:
            log.error("rate limiter: Redis unreachable, requests pass unlimited: %s", error)
        self._down_since = self._clock()
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

    def __init__(self, client: redis.Redis, clock: Clock | None = None) -> None:
        self._script = client.register_script(_TAKE)
        self._clock = clock
        self._fail_open = _FailOpen(clock or time.monotonic)

    def take(self, name: str, rate_per_minute: int, burst: int) -> Decision:
        if self._fail_open.skip():
            return _FailOpen.unchecked()
        try:
            args = _script_args(rate_per_minute, burst, 1, self._clock)
            reply = self._script(keys=[bucket_key(name)], args=args)
        except (redis.RedisError, OSError) as error:
            return self._fail_open.failed(error)
        self._fail_open.succeeded()
        return _decision(reply)


class AsyncTokenBucket:
    """One per event loop (a worker): its leases are spent by that loop only."""

    def __init__(self, client: redis.asyncio.Redis, clock: Clock | None = None) -> None:
        self._script = client.register_script(_TAKE)
        self._clock = clock
        self._local_clock = clock or time.monotonic
        self._fail_open = _FailOpen(self._local_clock)
        self._leases: dict[str, _Lease] = {}
        self.redis_calls = 0

    async def take(self, name: str, rate_per_minute: int, burst: int) -> Decision:
        lease = self._leases.get(name)
        if lease is not None and lease.tokens > 0 and self._local_clock() < lease.until:
            lease.tokens -= 1
            return Decision(True, 0.0, lease.remaining + lease.tokens)
        if self._fail_open.skip():
            return _FailOpen.unchecked()
        wanted = lease_size(rate_per_minute, burst)
        try:
            self.redis_calls += 1
            args = _script_args(rate_per_minute, burst, wanted, self._clock)
            reply = await self._script(keys=[bucket_key(name)], args=args)
        except (redis.RedisError, OSError) as error:
            return self._fail_open.failed(error)
        self._fail_open.succeeded()
        decision = _decision(reply)
        granted = int(reply[0])
        if granted > 1:
            self._leases[name] = _Lease(
                granted - 1, decision.remaining, self._local_clock() + LEASE_SECONDS
            )
        return Decision(decision.allowed, decision.retry_after, decision.remaining + granted - 1)
