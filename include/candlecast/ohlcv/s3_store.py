"""The Parquet candle store on an S3-compatible object store (`CANDLECAST_STORE_URL=s3://...`):
the same objects as the local store's files (`<prefix>/<timeframe>/X_<PAIR>.parquet`), the same
guarantees, reached by every worker and replica on any host.

Atomic: a series is serialized whole in memory, then written by one PUT: a reader sees the old
object or the new one, never a part; a writer that dies mid-upload leaves the old one. Concurrent
writers (two Celery workers, a CLI backfill) are ordered by conditional writes instead of a
file lock: read (bytes + ETag) → merge → PUT `If-Match: <ETag>` (`If-None-Match: *` for a new
series); the loser of a race reads what won and merges again, so no writer's candles are lost.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from candlecast.marketdata import CANDLE_COLUMNS, empty_candles
from candlecast.ohlcv.parquet_store import (
    SCHEMA,
    CandleStore,
    describe_series,
    series_after_merge,
    series_frame,
    ticker_filename,
)
from candlecast.ops.s3_client import Blob, ObjectStore, WriteConflict, is_object_store_url
from candlecast.timeframes import Timeframe

# Conditional-write retries of one merge: each lost race means another writer landed.
MAX_MERGE_ATTEMPTS = 50
READ_THREADS = 16


def _table(blob: Blob, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(pa.BufferReader(blob.data), schema=SCHEMA, columns=columns)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(
        frame.loc[:, list(CANDLE_COLUMNS)], schema=SCHEMA, preserve_index=False
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


class ObjectCandleStore(CandleStore):
    def __init__(self, url: str) -> None:
        self.objects = ObjectStore(url)
        self.url = self.objects.url
        self.root = None  # no local folder: every series is an object

    def _key(self, ticker: str, timeframe: Timeframe) -> str:
        return f"{timeframe.slug}/{ticker_filename(ticker)}"

    def path(self, ticker: str, timeframe: Timeframe) -> Path:
        raise TypeError(f"{self.url} is an object store: series have no local path")

    def location(self, ticker: str, timeframe: Timeframe) -> str:
        return self.objects.uri(self._key(ticker, timeframe))

    def exists(self, ticker: str, timeframe: Timeframe) -> bool:
        return self.objects.exists(self._key(ticker, timeframe))

    def row_count(self, ticker: str, timeframe: Timeframe) -> int:
        blob = self.objects.get(self._key(ticker, timeframe))
        return 0 if blob is None else pq.ParquetFile(pa.BufferReader(blob.data)).metadata.num_rows

    def read(self, ticker: str, timeframe: Timeframe) -> pd.DataFrame:
        blob = self.objects.get(self._key(ticker, timeframe))
        return empty_candles() if blob is None else _table(blob).to_pandas()

    def tail(self, ticker: str, timeframe: Timeframe, rows: int) -> pd.DataFrame:
        """The newest `rows` candles of a series (empty when the store has none)."""
        blob = self.objects.get(self._key(ticker, timeframe))
        if blob is None:
            return empty_candles()
        table = _table(blob)
        return table.slice(max(0, table.num_rows - rows)).to_pandas()

    def last_timestamp(self, ticker: str, timeframe: Timeframe) -> pd.Timestamp | None:
        blob = self.objects.get(self._key(ticker, timeframe))
        if blob is None:
            return None
        column = _table(blob, ["timestamp"])["timestamp"]
        return None if len(column) == 0 else pd.Timestamp(column[-1].as_py())

    def write(self, ticker: str, timeframe: Timeframe, frame: pd.DataFrame) -> str:
        """Replace the series whole (unconditionally: merge_write is the concurrent path)."""
        self.objects.put(self._key(ticker, timeframe), parquet_bytes(frame))
        return self.location(ticker, timeframe)

    def merge_write(
        self,
        ticker: str,
        timeframe: Timeframe,
        fresh: pd.DataFrame,
        keep_from: pd.Timestamp | None = None,
    ) -> tuple[bool, int]:
        key = self._key(ticker, timeframe)
        for attempt in range(MAX_MERGE_ATTEMPTS):
            blob = self.objects.get(key)
            stored = empty_candles() if blob is None else _table(blob).to_pandas()
            merged = series_after_merge(stored, fresh, keep_from)
            if merged is None:
                return False, len(stored)
            try:
                self.objects.put(key, parquet_bytes(merged), expected=blob)
            except WriteConflict:
                time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
                continue
            return True, len(merged)
        raise RuntimeError(
            f"{self.location(ticker, timeframe)}: {MAX_MERGE_ATTEMPTS} writers in a row changed "
            "the series while this one merged; nothing was written by this writer"
        )

    def read_many(self, tickers: list[str], timeframe: Timeframe) -> pd.DataFrame:
        keys = [self._key(t, timeframe) for t in tickers]
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            blobs = list(pool.map(self.objects.get, keys))
        found = [(t, _table(b)) for t, b in zip(tickers, blobs, strict=True) if b is not None]
        if not found:
            return empty_candles().assign(ticker=pd.Categorical([]))
        return series_frame([t for t, _ in found], [table for _, table in found])

    def series_info(self, ticker: str, timeframe: Timeframe) -> dict:
        blob = self.objects.get(self._key(ticker, timeframe))
        if blob is None:
            raise FileNotFoundError(self.location(ticker, timeframe))
        frame = _table(blob, ["timestamp"]).to_pandas()
        return describe_series(frame["timestamp"], timeframe)

    def tickers(self, timeframe: Timeframe) -> list[str]:
        names = (key.rsplit("/", 1)[-1] for key in self.objects.list(timeframe.slug))
        return sorted(
            n.removesuffix(".parquet").replace("_", ":", 1)
            for n in names
            if n.startswith("X_") and n.endswith(".parquet")
        )


def open_store(location: str | Path) -> CandleStore:
    """The candle store at a folder (the default) or at `s3://bucket/prefix`."""
    if is_object_store_url(location):
        return ObjectCandleStore(str(location))
    return CandleStore(Path(location))
