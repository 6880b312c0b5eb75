"""Token buckets on real Redis: a burst, then refusal with a sane wait, then refill. The buckets
run on a clock the test moves (the script's time and the leases'), so no take is refilled or
refused because the machine was slow between two lines."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid

import pytest
import redis
import redis.asyncio

from candlecast.api import AsyncTokenBucket, TokenBucket, bucket_key, lease_size
from candlecast.api.key_limits import LEASE_SECONDS
from tests.support.clock import ManualClock


@pytest.fixture
def client(redis_url):
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def test_burst_then_refusal_with_retry_after(client):
    bucket, name = TokenBucket(client, ManualClock()), uuid.uuid4().hex
    decisions = [bucket.take(name, rate_per_minute=60, burst=5) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[-1]
    assert refused.limited and 0 < refused.retry_after <= 1.0  # one token a second
    assert client.pttl(bucket_key(name)) > 0  # the bucket expires once it would be full


def test_refill_at_the_rate(client):
    clock = ManualClock()
    bucket, name = TokenBucket(client, clock), uuid.uuid4().hex
    for _ in range(2):
        assert bucket.take(name, rate_per_minute=600, burst=2).allowed
    refused = bucket.take(name, rate_per_minute=600, burst=2)
    assert not refused.allowed and refused.retry_after <= 0.1
    clock.advance(refused.retry_after)
    assert bucket.take(name, rate_per_minute=600, burst=2).allowed
    assert not bucket.take(name, rate_per_minute=600, burst=2).allowed


def test_buckets_are_per_key(client):
    bucket = TokenBucket(client, ManualClock())
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    assert bucket.take(first, 60, 1).allowed and not bucket.take(first, 60, 1).allowed
    assert bucket.take(second, 60, 1).allowed


def test_async_bucket_shares_the_same_state(client, redis_url):
    name, clock = uuid.uuid4().hex, ManualClock()
    assert TokenBucket(client, clock).take(name, 60, 2).allowed

    async def two_more():
        connection = redis.asyncio.Redis.from_url(redis_url)
        bucket = AsyncTokenBucket(connection, clock)
        try:
            return [await bucket.take(name, 60, 2) for _ in range(2)]
        finally:
            await connection.aclose()

    allowed = [d.allowed for d in asyncio.run(two_more())]
    assert allowed == [True, False]


def test_unreachable_redis_lets_requests_through_and_logs_once(caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    bucket = TokenBucket(redis.Redis(port=port, socket_connect_timeout=1))
    with caplog.at_level(logging.ERROR, logger="candlecast.api.key_limits"):
        decisions = [bucket.take("any", 60, 1) for _ in range(3)]
    assert all(d.allowed and not d.limited for d in decisions)
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1


def test_a_worker_leases_tokens_of_a_high_limit_and_never_exceeds_it(client, redis_url):
    """burst 500 at 3000/min: leases of 5 (1 % of the burst, 0.1 s of the rate), so 500
    requests cost about 100 Redis calls and no more pass than the burst allows (the clock stands
    still: nothing refills); a worker elsewhere sees the leased tokens as taken."""
    name, rate, burst, clock = uuid.uuid4().hex, 3000, 500, ManualClock()
    assert lease_size(rate, burst) == 5 and lease_size(60, 150) == 1

    async def requests(n: int):
        connection = redis.asyncio.Redis.from_url(redis_url)
        bucket = AsyncTokenBucket(connection, clock)
        try:
            first = [await bucket.take(name, rate, burst) for _ in range(7)]
            other_worker = TokenBucket(client, clock).take(name, rate, burst)
            rest = [await bucket.take(name, rate, burst) for _ in range(n - 7)]
            return first + rest, other_worker, bucket.redis_calls
        finally:
            await connection.aclose()

    decisions, other_worker, calls = asyncio.run(requests(600))
    assert other_worker.allowed
    assert other_worker.remaining == 500 - 10 - 1  # two leases taken
    allowed = [d.allowed for d in decisions]
    assert allowed.count(True) == 499 and allowed[-1] is False
    # a lease per 5 of the burst's tokens, a refused request asks
    assert calls - allowed.count(False) <= 500 / 5 + 2


def test_leased_tokens_not_spent_in_time_are_dropped(client, redis_url):
    """A lease lives LEASE_SECONDS on the bucket's clock: after that the worker asks again."""
    name, rate, burst, clock = uuid.uuid4().hex, 3000, 500, ManualClock()

    async def take_around_the_lease_end():
        connection = redis.asyncio.Redis.from_url(redis_url)
        bucket = AsyncTokenBucket(connection, clock)
        try:
            await bucket.take(name, rate, burst)  # a lease of 5: one spent, 4 kept
            await bucket.take(name, rate, burst)
            kept = bucket.redis_calls
            clock.advance(LEASE_SECONDS)
            await bucket.take(name, rate, burst)
            return kept, bucket.redis_calls
        finally:
            await connection.aclose()

    kept, after = asyncio.run(take_around_the_lease_end())
    assert (kept, after) == (1, 2)
