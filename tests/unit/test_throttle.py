"""Token buckets on real Redis: a burst, then refusal with a sane wait, then refill."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid

import pytest
import redis
import redis.asyncio

from candlecast.api import AsyncTokenBucket, TokenBucket, bucket_key


@pytest.fixture
def client(redis_url):
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


def test_burst_then_refusal_with_retry_after(client):
    bucket, name = TokenBucket(client), uuid.uuid4().hex
    decisions = [bucket.take(name, rate_per_minute=60, burst=5) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[-1]
    assert refused.limited and 0 < refused.retry_after <= 1.0  # one token a second
    assert client.pttl(bucket_key(name)) > 0  # the bucket expires once it would be full


def test_refill_at_the_rate(client):
    bucket, name = TokenBucket(client), uuid.uuid4().hex
    for _ in range(2):
        assert bucket.take(name, rate_per_minute=600, burst=2).allowed
    refused = bucket.take(name, rate_per_minute=600, burst=2)
    assert not refused.allowed and refused.retry_after <= 0.1
    time.sleep(refused.retry_after + 0.02)
    assert bucket.take(name, rate_per_minute=600, burst=2).allowed
    assert not bucket.take(name, rate_per_minute=600, burst=2).allowed


def test_buckets_are_per_key(client):
    bucket = TokenBucket(client)
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    assert bucket.take(first, 60, 1).allowed and not bucket.take(first, 60, 1).allowed
    assert bucket.take(second, 60, 1).allowed


def test_async_bucket_shares_the_same_state(client, redis_url):
    name = uuid.uuid4().hex
    assert TokenBucket(client).take(name, 60, 2).allowed

    async def two_more():
        connection = redis.asyncio.Redis.from_url(redis_url)
        bucket = AsyncTokenBucket(connection)
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
    with caplog.at_level(logging.ERROR, logger="candlecast.api.throttle"):
        decisions = [bucket.take("any", 60, 1) for _ in range(3)]
    assert all(d.allowed and not d.limited for d in decisions)
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
