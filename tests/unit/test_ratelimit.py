"""The shared limiter counts a request while it is in flight and for a window after it
completed, so a process starved between taking a slot and sending its request (2 cores, Celery
workers training beside it) cannot push the provider's own window over the plan."""

from __future__ import annotations

import time
import uuid

import redis

from candlecast.marketdata import SlidingWindowLimiter


def test_a_request_in_flight_holds_its_slot_past_the_window(redis_url):
    key = f"test:limiter:{uuid.uuid4().hex}"
    limiter = SlidingWindowLimiter(redis.Redis.from_url(redis_url), key, 2, window_seconds=0.5)
    slow = limiter.acquire_blocking()  # taken, not yet answered
    time.sleep(limiter.window_us / 1_000_000 + 0.3)  # longer than a window (and its margin)
    prompt = limiter.acquire_blocking()
    limiter.complete(prompt)
    assert limiter._try(uuid.uuid4().hex) > 0  # the slow one still counts: no third slot
    limiter.complete(slow)  # its answer is back: it counts one more window from now
    assert limiter._try(uuid.uuid4().hex) > 0
    started = time.monotonic()
    limiter.acquire_blocking()
    assert time.monotonic() - started >= 0.5  # a full window after the slow one completed
