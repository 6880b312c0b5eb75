"""Redis cache of candle frames, stored as Arrow IPC bytes."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import redis

from candlecast.settings import Settings


def redis_url(settings: Settings) -> str:
    """REDIS_URL, or the embedded server under CANDLECAST_HOME (started if need be)."""
    if settings.redis_url:
        return settings.redis_url
    from candlecast.localservices import start_redis

    return start_redis(settings.home)


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(redis_url(settings), socket_timeout=2, socket_connect_timeout=2)


def candles_key(ticker: str, timeframe_code: str) -> str:
    return f"candlecast:candles:{ticker}:{timeframe_code}"


def put_frame(client: redis.Redis, key: str, frame: pd.DataFrame, ttl_seconds: int) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    client.set(key, sink.getvalue(), ex=ttl_seconds)


def get_frame(client: redis.Redis, key: str) -> pd.DataFrame | None:
    payload = client.get(key)
    if payload is None:
        return None
    return pa.ipc.open_stream(payload).read_all().to_pandas()
