"""Actual closes for scoring stored forecasts: the Parquet store, topped up by cached candles."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from candlecast.cache import GuardedRedis, candles_key, frame_from_bytes
from candlecast.store import CandleStore
from candlecast.timeframes import TIMEFRAMES


class ActualCloses:
    def __init__(self, store_dir: Path, cache: GuardedRedis) -> None:
        self.store = CandleStore(store_dir)
        self.cache = cache

    def __call__(self, ticker: str, timeframe_code: str) -> pd.Series:
        frames = [self.store.read(ticker, TIMEFRAMES[timeframe_code])]
        payload = self.cache.call("get", candles_key(ticker, timeframe_code))
        if payload is not None:
            frames.append(frame_from_bytes(payload)[0])
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.Series(dtype="float64")
        merged = pd.concat(frames).drop_duplicates("timestamp", keep="last")
        stamps = pd.to_datetime(merged["timestamp"], utc=True).astype("datetime64[ns, UTC]")
        return pd.Series(merged["close"].to_numpy(), index=stamps)
