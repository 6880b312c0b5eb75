"""The Parquet candle store: one file per symbol per timeframe, written atomically; read →
merge → write of one series runs under that series' lock, so concurrent writers (a CLI backfill
and a DAG run) both land."""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from candlecast.marketdata import CANDLE_COLUMNS, empty_candles
from candlecast.ops import atomic_write
from candlecast.timeframes import Timeframe

SCHEMA = pa.schema(
    [pa.field("timestamp", pa.timestamp("ms", tz="UTC"), nullable=False)]
    + [pa.field(c, pa.float64()) for c in CANDLE_COLUMNS[1:]]
)


TICKER_PATTERN = re.compile(r"^X:[A-Z0-9]{2,30}$")


def ticker_filename(ticker: str) -> str:
    """`X:BTCUSDT` → `X_BTCUSDT.parquet`; anything else (a path, `..`) is refused."""
    if not TICKER_PATTERN.match(ticker):
        raise ValueError(
            f"{ticker!r} is not a ticker like 'X:BTCUSDT' (letters and digits after 'X:'); "
            "a name with '/', '..' or other characters would address a path outside the store"
        )
    return ticker.replace(":", "_") + ".parquet"


class CandleStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, ticker: str, timeframe: Timeframe) -> Path:
        return self.root / timeframe.slug / ticker_filename(ticker)

    def location(self, ticker: str, timeframe: Timeframe) -> str:
        """Where the series lives, for logs and reports (a path here, a URI on an object store)."""
        return str(self.path(ticker, timeframe))

    def exists(self, ticker: str, timeframe: Timeframe) -> bool:
        return self.path(ticker, timeframe).exists()

    def row_count(self, ticker: str, timeframe: Timeframe) -> int:
        """Candles stored, from the Parquet footer alone."""
        return pq.ParquetFile(self.path(ticker, timeframe)).metadata.num_rows

    def read(self, ticker: str, timeframe: Timeframe) -> pd.DataFrame:
        path = self.path(ticker, timeframe)
        if not path.exists():
            return empty_candles()
        return pq.read_table(path, schema=SCHEMA).to_pandas()

    def tail(self, ticker: str, timeframe: Timeframe, rows: int) -> pd.DataFrame:
        """The newest `rows` candles of a series (empty when the store has none): only they are
        converted to pandas."""
        path = self.path(ticker, timeframe)
        try:
            table = pq.read_table(path, schema=SCHEMA)
        except FileNotFoundError:
            return empty_candles()
        return table.slice(max(0, table.num_rows - rows)).to_pandas()

    def last_timestamp(self, ticker: str, timeframe: Timeframe) -> pd.Timestamp | None:
        path = self.path(ticker, timeframe)
        if not path.exists():
            return None
        column = pq.read_table(path, columns=["timestamp"])["timestamp"]
        return None if len(column) == 0 else pd.Timestamp(column[-1].as_py())

    def write(self, ticker: str, timeframe: Timeframe, frame: pd.DataFrame) -> Path:
        """Replace the series atomically: a crash mid-write leaves the previous file intact."""
        path = self.path(ticker, timeframe)
        table = pa.Table.from_pandas(
            frame.loc[:, list(CANDLE_COLUMNS)], schema=SCHEMA, preserve_index=False
        )
        return atomic_write(path, lambda handle: pq.write_table(table, handle, compression="zstd"))

    @contextmanager
    def locked(self, ticker: str, timeframe: Timeframe) -> Iterator[None]:
        """An exclusive lock on one series, across threads and processes (flock)."""
        path = self.root / ".locks" / timeframe.slug / ticker_filename(ticker)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def merge_write(
        self,
        ticker: str,
        timeframe: Timeframe,
        fresh: pd.DataFrame,
        keep_from: pd.Timestamp | None = None,
    ) -> tuple[bool, int]:
        """Merge fresh candles into the series (fresh wins on a repeated timestamp), drop those
        before `keep_from`, write only if that changed anything: (written, rows stored).
        Read, merge and write happen under the series' lock: no concurrent writer's rows lost."""
        with self.locked(ticker, timeframe):
            stored = self.read(ticker, timeframe)
            merged = series_after_merge(stored, fresh, keep_from)
            if merged is None:
                return False, len(stored)
            self.write(ticker, timeframe, merged)
            return True, len(merged)

    def read_many(self, tickers: list[str], timeframe: Timeframe) -> pd.DataFrame:
        """One frame of many series (column `ticker`, categorical), files read on threads."""
        present = [t for t in tickers if self.path(t, timeframe).exists()]
        if not present:
            return empty_candles().assign(ticker=pd.Categorical([]))
        with ThreadPoolExecutor(max_workers=8) as pool:
            tables = list(
                pool.map(lambda t: pq.read_table(self.path(t, timeframe), schema=SCHEMA), present)
            )
        return series_frame(present, tables)

    def series_info(self, ticker: str, timeframe: Timeframe) -> dict:
        """Rows, first/last candle and missing candles between them."""
        frame = pq.read_table(self.path(ticker, timeframe), columns=["timestamp"]).to_pandas()
        return describe_series(frame["timestamp"], timeframe)

    def tickers(self, timeframe: Timeframe) -> list[str]:
        folder = self.root / timeframe.slug
        return sorted(p.stem.replace("_", ":", 1) for p in folder.glob("X_*.parquet"))


def describe_series(stamps: pd.Series, timeframe: Timeframe) -> dict:
    """Rows, first/last candle, and gaps (runs of missing candles) of a sorted series."""
    if stamps.empty:
        return {"rows": 0, "first": None, "last": None, "gaps": 0, "missing_candles": 0}
    expected = pd.date_range(stamps.iloc[0], stamps.iloc[-1], freq=timeframe.offset)
    missing = np.flatnonzero(~expected.isin(stamps))
    gaps = 0 if len(missing) == 0 else 1 + int(np.count_nonzero(np.diff(missing) != 1))
    return {
        "rows": len(stamps),
        "first": stamps.iloc[0],
        "last": stamps.iloc[-1],
        "gaps": gaps,
        "missing_candles": int(len(missing)),
    }


def series_after_merge(
    stored: pd.DataFrame, fresh: pd.DataFrame, keep_from: pd.Timestamp | None
) -> pd.DataFrame | None:
    """The series once fresh candles are merged in and those before `keep_from` dropped; None
    when that changes nothing (every store writes only then)."""
    merged = merge_candles(stored, fresh)
    if keep_from is not None:
        merged = merged[merged["timestamp"] >= keep_from].reset_index(drop=True)
    return None if merged.equals(stored) else merged


def series_frame(tickers: list[str], tables: list[pa.Table]) -> pd.DataFrame:
    """One frame of many series' tables, in order, with a categorical `ticker` column."""
    lengths = np.fromiter((len(t) for t in tables), dtype=np.int64, count=len(tables))
    codes = pa.array(np.repeat(np.arange(len(tickers), dtype=np.int32), lengths))
    ticker = pa.DictionaryArray.from_arrays(codes, pa.array(tickers))
    return pa.concat_tables(tables).append_column("ticker", ticker).to_pandas()


def merge_candles(stored: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """Append fresh candles to stored ones; on a repeated timestamp the fresh candle wins."""
    if stored.empty:
        return fresh.reset_index(drop=True)
    if fresh.empty:
        return stored.reset_index(drop=True)
    merged = pd.concat([stored, fresh], ignore_index=True)
    merged = merged.drop_duplicates("timestamp", keep="last").sort_values("timestamp")
    return merged.reset_index(drop=True)
