"""The shared limiter counts a request while it is in flight and for a window after it
completed, so a process starved between taking a slot and sending its request (2 cores, Celery
workers training beside it) cannot push the provider's own window over the plan. The limiter
runs on a clock the test moves: a slow machine changes nothing."""

from __future__ import annotations

import uuid

import redis

from candlecast.marketdata import SlidingWindowLimiter
from tests.support.clock import ManualClock


def test_a_request_in_flight_holds_its_slot_past_the_window(redis_url):
    key, clock = f"test:limiter:{uuid.uuid4().hex}", ManualClock()
    limiter = SlidingWindowLimiter(
        redis.Redis.from_url(redis_url), key, 2, window_seconds=0.5, clock=clock
    )
    window = limiter.window_us / 1_000_000  # the window and its safety margin
    slow = limiter.acquire_blocking()  # taken, not yet answered
    clock.advance(window + 0.3)  # longer than a window (and its margin)
    prompt = limiter.acquire_blocking()
    limiter.complete(prompt)
    assert limiter._try(uuid.uuid4().hex) > 0  # the slow one still counts: no third slot
    limiter.complete(slow)  # its answer is back: it counts one more window from now
    assert limiter._try(uuid.uuid4().hex) > 0
    clock.advance(window - 0.001)
    assert limiter._try(uuid.uuid4().hex) > 0  # not yet a full window after it completed
    clock.advance(0.001)
    assert limiter._try(uuid.uuid4().hex) == 0  # a full window after the slow one completed
