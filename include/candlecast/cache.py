"""Redis: the client, candle frames stored as Arrow IPC bytes, and a guard for serving.

The guard lets the API run on while Redis is down: a failed command counts as a miss, and Redis
is left alone for a moment before the next attempt (it reconnects lazily, no restart needed).
"""

from __future__ import annotations

import io
import logging
import threading
import time

import pandas as pd
import pyarrow as pa
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from candlecast.lru import LruCache
from candlecast.settings import Settings

log = logging.getLogger(__name__)

REDIS_RETRY_PAUSE_SECONDS = 1.0
DECODED_FRAMES = 512  # ~50 KB of payload and ~60 KB of frame each


def redis_url(settings: Settings) -> str:
    """REDIS_URL, or the embedded server under CANDLECAST_HOME (started if need be)."""
    if settings.redis_url:
        return settings.redis_url
    from candlecast.localservices import start_redis

    return start_redis(settings.home)


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(redis_url(settings), socket_timeout=2, socket_connect_timeout=2)


def serving_redis_client(settings: Settings) -> redis.Redis:
    """A client that fails fast (no retries, short timeouts): a request must not wait on Redis."""
    return redis.Redis.from_url(
        redis_url(settings),
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


def candles_key(ticker: str, timeframe_code: str) -> str:
    return f"candlecast:candles:{ticker}:{timeframe_code}"


def frame_bytes(frame: pd.DataFrame, metadata: dict[str, str] | None = None) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), **{k: v for k, v in metadata.items()}}
        )
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def frame_from_bytes(payload: bytes) -> tuple[pd.DataFrame, dict[str, str]]:
    table = pa.ipc.open_stream(payload).read_all()
    metadata = {
        k.decode(): v.decode()
        for k, v in (table.schema.metadata or {}).items()
        if not k.startswith(b"pandas")
    }
    return table.to_pandas(), metadata


class DecodedFrames:
    """The frames last decoded from cached payloads, per key: a payload equal to the one seen
    before (a memory compare) is not decoded again. The frames are shared: read, never write."""

    def __init__(self, size: int = DECODED_FRAMES) -> None:
        self._entries: LruCache[str, tuple[bytes, pd.DataFrame, dict[str, str]]] = LruCache(size)

    def decode(self, key: str, payload: bytes) -> tuple[pd.DataFrame, dict[str, str]]:
        seen = self._entries.get(key)
        if seen is not None and seen[0] == payload:
            return seen[1], seen[2]
        frame, metadata = frame_from_bytes(payload)
        self._entries.put(key, (payload, frame, metadata))
        return frame, metadata


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
        if not self.available:
            return fallback
        try:
            return getattr(self.client, method)(*args, **kwargs)
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
