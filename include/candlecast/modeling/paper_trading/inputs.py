"""The signals and candles paper trading reads, checked and turned into arrays (times in ns
since the epoch)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

SIGNAL_COLUMNS = ("timestamp", "ticker", "direction", "confidence")
CANDLE_COLUMNS = ("timestamp", "open", "high", "low", "close")
DIRECTIONS = frozenset({"up", "down"})


@dataclass(frozen=True)
class Series:
    """One coin's candles as arrays; `time` in ns since the epoch, strictly increasing."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


def utc_ns(values, what: str) -> np.ndarray:
    if not len(values):
        return np.empty(0, dtype=np.int64)
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        raise ValueError(f"{what}: timestamps must be tz-aware (UTC), got naive ones")
    return index.tz_convert("UTC").as_unit("ns").asi8


@dataclass(frozen=True)
class Signals:
    """Signals as arrays; `coin` indexes `tickers` (sorted)."""

    tickers: list[str]
    time: np.ndarray
    coin: np.ndarray
    up: np.ndarray
    confidence: np.ndarray

    def take(self, rows: np.ndarray) -> Signals:
        return Signals(
            self.tickers, self.time[rows], self.coin[rows], self.up[rows], self.confidence[rows]
        )


def checked_signals(signals: pd.DataFrame) -> Signals:
    missing = [c for c in SIGNAL_COLUMNS if c not in signals.columns]
    if missing:
        raise ValueError(f"signals: missing columns {missing}")
    direction = signals["direction"]
    unknown = sorted(set(direction[~direction.isin(list(DIRECTIONS))].astype(str).unique()))
    if unknown:
        raise ValueError(f"signals: direction must be 'up' or 'down', got {unknown[:5]}")
    confidence = pd.to_numeric(signals["confidence"]).to_numpy(dtype=float)
    if not ((confidence >= 0) & (confidence <= 1)).all():  # NaN fails too
        raise ValueError("signals: confidence must be a probability in [0, 1] (no NaN)")
    coin, tickers = pd.factorize(signals["ticker"].astype(str), sort=True)
    checked = Signals(
        [str(t) for t in tickers],
        utc_ns(signals["timestamp"], "signals"),
        coin.astype(np.int64),
        (direction == "up").to_numpy(dtype=bool),
        confidence,
    )
    order = np.lexsort((checked.time, checked.coin))
    coin, time = checked.coin[order], checked.time[order]
    if ((coin[1:] == coin[:-1]) & (time[1:] == time[:-1])).any():
        raise ValueError("signals: more than one signal for a ticker at the same timestamp")
    return checked


def series_of(ticker: str, candles: Mapping[str, pd.DataFrame]) -> Series:
    if ticker not in candles:
        raise ValueError(f"candles: no frame for signalled ticker {ticker!r}")
    frame = candles[ticker]
    missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"candles[{ticker!r}]: missing columns {missing}")
    time = utc_ns(frame["timestamp"], f"candles[{ticker!r}]")
    order = np.argsort(time, kind="stable")
    time = time[order]
    if (np.diff(time) == 0).any():
        raise ValueError(f"candles[{ticker!r}]: duplicate timestamps")
    prices = [frame[c].to_numpy(dtype=float)[order] for c in ("open", "high", "low", "close")]
    if not all(np.isfinite(p).all() and (p > 0).all() for p in prices):
        raise ValueError(f"candles[{ticker!r}]: prices must be finite and positive")
    return Series(time, *prices)


def ns(times: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(times).as_unit("ns").asi8
