"""Served forecasts and candles written by hand, for the monitoring tests: a synthetic hourly
store, model rows and stored forecasts (as `persist_forecast` stores them) on real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import pandas as pd
from psycopg.types.json import Jsonb

from candlecast.ohlcv import CandleStore
from candlecast.timeframes import TIMEFRAMES

HOUR = TIMEFRAMES["1h"]
START = pd.Timestamp("2025-03-03 00:00", tz="UTC")  # a Monday


def candles(start: pd.Timestamp, closes: Sequence[float], wick: float = 0.002) -> pd.DataFrame:
    """Hourly candles: each opens at the previous close, wicks `wick` beyond the body."""
    close = np.asarray(closes, dtype=float)
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + wick)
    low = np.minimum(open_, close) * (1 - wick)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range(start, periods=len(close), freq="h", unit="ms"),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": 1000.0,
            "vwap": (high + low + close) / 3,
            "trades": np.nan,
        }
    )


def random_walk(seed: int, n: int, start_price: float = 100.0, sigma: float = 0.01) -> np.ndarray:
    steps = np.random.default_rng(seed).normal(0, sigma, n)
    return start_price * np.exp(np.cumsum(steps))


def write_series(store: CandleStore, ticker: str, frame: pd.DataFrame) -> None:
    store.write(ticker, HOUR, frame.reset_index(drop=True))


def add_symbol(conn, ticker: str) -> int:
    base = ticker.removeprefix("X:").removesuffix("USDT")
    return conn.execute(
        "INSERT INTO symbols (ticker, name, base, quote) VALUES (%s, %s, %s, 'USDT') "
        "ON CONFLICT (ticker) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        (ticker, base, base),
    ).fetchone()["id"]


def add_model(conn, version: str, test: dict | None = None) -> int:
    metrics = {"test": {"all": test or {}}}
    return conn.execute(
        "INSERT INTO models (name, version, timeframe, algorithm, feature_set_version, "
        "trained_at, n_symbols, n_train_rows, metrics) "
        "VALUES ('candlecast-1h', %s, '1h', 'test', 'v2', now(), 6, 1000, %s) RETURNING id",
        (version, Jsonb(metrics)),
    ).fetchone()["id"]


def serve(
    conn,
    model_id: int,
    symbol_id: int,
    last_candle_at: pd.Timestamp,
    last_close: float,
    closes: Sequence[float],
    directions: Sequence[str] | str,
    confidence: float = 0.55,
    band: float | Sequence[float] = 0.03,
    stale: bool = False,
    shadow_of: str | None = None,
) -> str:
    """A stored forecast of len(closes) hourly steps after `last_candle_at`; returns its id.
    `shadow_of`: the champion forecast this (challenger's) one shadows."""
    prediction_id = str(uuid.uuid4())
    steps = len(closes)
    if isinstance(directions, str):
        directions = [directions] * steps
    bands = [band] * steps if isinstance(band, float | int) else list(band)
    conn.execute(
        "INSERT INTO predictions (id, symbol_id, timeframe, model_id, steps, last_candle_at, "
        "last_close, direction, confidence, generated_at, stale, shadow, shadow_of) "
        "VALUES (%s, %s, '1h', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            prediction_id, symbol_id, model_id, steps, last_candle_at, last_close,
            directions[-1], confidence, HOUR.next_open(last_candle_at), stale,
            shadow_of is not None, shadow_of,
        ),
    )  # fmt: skip
    previous = last_close
    for step, (close, direction, width) in enumerate(
        zip(closes, directions, bands, strict=True), start=1
    ):
        conn.execute(
            "INSERT INTO prediction_steps (prediction_id, step, timestamp, open, high, low, "
            "close, close_low_80, close_high_80, direction, confidence) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                prediction_id, step, HOUR.next_open(last_candle_at, step), previous,
                max(previous, close) * 1.001, min(previous, close) * 0.999, close,
                close * (1 - width), close * (1 + width), direction, confidence,
            ),
        )  # fmt: skip
        previous = close
    return prediction_id
