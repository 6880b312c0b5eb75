"""Redis: the client, and a guard for the request path.

The guard lets the API run on while Redis is down: a failed command counts as a miss, and Redis
is left alone for a moment before the next attempt (it reconnects lazily, no restart needed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from candlecast.settings import Settings

log = logging.getLogger(__name__)

REDIS_RETRY_PAUSE_SECONDS = 1.0
T = TypeVar("T")


def redis_url(settings: Settings) -> str:
    """REDIS_URL, or the embedded server under CANDLECAST_HOME (started if need be)."""
    if settings.redis_url:
        return settings.redis_url
    from candlecast.ops.embedded import start_redis

    return start_redis(settings.home)


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(redis_url(settings), socket_timeout=2, socket_connect_timeout=2)


def serving_redis_client(settings: Settings, timeout_seconds: float = 0.5) -> redis.Redis:
    """A client that fails fast (no retries, short timeouts): a request must not wait on Redis."""
    return redis.Redis.from_url(
        redis_url(settings),
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


class GuardedRedis:
    """Redis for the request path: every call returns a fallback instead of raising."""

    def __init__(self, client: redis.Redis, pause_seconds: float = REDIS_RETRY_PAUSE_SECONDS):
        self.client = client
        self.pause_seconds = pause_seconds
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def call(self, method: str, *args, fallback=None, **kwargs):
        return self.run(lambda client: getattr(client, method)(*args, **kwargs), fallback)

    def run(self, commands: Callable[[redis.Redis], T], fallback=None) -> T:
        """`commands(client)` (a pipeline, say), guarded like `call`."""
        if not self.available:
            return fallback
        try:
            return commands(self.client)
        except (redis.RedisError, OSError) as error:
            with self._lock:
                if self.available:
                    log.warning("redis unavailable (%s); serving without it", error)
                self._down_until = time.monotonic() + self.pause_seconds
            return fallback

    def ping(self) -> bool:
        """A direct check (health): also clears the pause when Redis is back."""
        try:
            self.client.ping()
        except (redis.RedisError, OSError):
            return False
        self._down_until = 0.0
        return True
