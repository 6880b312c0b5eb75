"""Candle frames as Redis holds them: Arrow IPC bytes under one key per series, the frames last
decoded from them, and each copy's mark: its last candle and fetch time (epoch nanoseconds) and
the copy's id, also in the copy's metadata, so a worker that has decoded that copy need not read
it again."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa

from candlecast.serving.lru import LruCache

DECODED_FRAMES = 512  # ~50 KB of payload and ~60 KB of frame each


def candles_key(ticker: str, timeframe_code: str) -> str:
    return f"candlecast:candles:{ticker}:{timeframe_code}"


def mark_key(candles_key: str) -> str:
    """The mark of the copy under `candles_key` (outside candlecast:candles:*)."""
    return candles_key.replace("candlecast:candles:", "candlecast:candle-mark:", 1)


def mark_bytes(
    last_candle_at: pd.Timestamp, fetched_at: pd.Timestamp | None, copy_id: str
) -> bytes:
    fetched = "" if fetched_at is None else str(pd.Timestamp(fetched_at).value)
    return f"{pd.Timestamp(last_candle_at).value}|{fetched}|{copy_id}".encode()


def parse_mark(mark: bytes | None) -> tuple[pd.Timestamp, pd.Timestamp | None, str] | None:
    """(last candle, fetched at or None, copy id); None for no mark or one of another form."""
    parts = mark.split(b"|") if mark else []
    if len(parts) != 3 or not parts[0].isdigit() or not (parts[1].isdigit() or not parts[1]):
        return None
    last_ns, fetched_ns, copy_id = parts
    fetched = pd.Timestamp(int(fetched_ns), tz="UTC") if fetched_ns else None
    return pd.Timestamp(int(last_ns), tz="UTC"), fetched, copy_id.decode()


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

    def known(self, key: str, copy_id: str) -> tuple[pd.DataFrame, dict[str, str]] | None:
        """The frame last decoded under `key` if it is the copy `copy_id`."""
        seen = self._entries.get(key)
        if seen is not None and seen[2].get("copy_id") == copy_id:
            return seen[1], seen[2]
        return None

    def decode(self, key: str, payload: bytes) -> tuple[pd.DataFrame, dict[str, str]]:
        seen = self._entries.get(key)
        if seen is not None and seen[0] == payload:
            return seen[1], seen[2]
        frame, metadata = frame_from_bytes(payload)
        self._entries.put(key, (payload, frame, metadata))
        return frame, metadata
