"""The cross-symbol training panel: features at each candle t, forward log returns at t+1..t+30.

Wide form (one row per symbol and candle, 30 targets per row) keeps memory at one copy of the
features; learners expand it to (row, horizon) pairs as they need. Every target also carries the
open time of the candle that ends it, which is what the purge between time windows works on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from candlecast.modeling.features import VOLATILITY_COLUMN, compute_features, feature_columns
from candlecast.modeling.market import MarketContext, choose_benchmarks
from candlecast.ohlcv import CandleStore
from candlecast.timeframes import MAX_STEPS, Timeframe

HORIZONS = np.arange(1, MAX_STEPS + 1)
ROW_BUDGET = 1_500_000  # panel rows kept in memory; above it every k-th candle is kept
NO_TARGET = np.datetime64("NaT", "ms")


@dataclass
class Panel:
    """Rows ordered by symbol then time; `series_start[i]` is the first row of row i's symbol."""

    features: np.ndarray  # (n, F) float32
    columns: list[str]
    timestamp: np.ndarray  # (n,) datetime64[ms], candle open
    ticker: np.ndarray  # (n,) object
    sigma: np.ndarray  # (n,) trailing volatility, the target scale
    last_return: np.ndarray  # (n,) one-candle log return into t (the momentum baseline)
    forward: np.ndarray  # (n, 30) log(C[t+h] / C[t]), NaN where the series ends first
    target_end: np.ndarray  # (n, 30) datetime64[ms] open of candle t+h, NaT where none
    series_start: np.ndarray  # (n,) int64
    stride: int = 1
    market: dict[str, str] = field(default_factory=dict)  # benchmark base -> ticker

    def __len__(self) -> int:
        return len(self.timestamp)

    @property
    def z(self) -> np.ndarray:
        """Horizon-normalised targets: log return / (sigma * sqrt(h))."""
        return self.forward / (self.sigma[:, None] * np.sqrt(HORIZONS)[None, :])

    @cached_property
    def relative_z(self) -> np.ndarray:
        """z less the mean z of every coin at the same candle (per horizon): what one coin does
        against the others, the cross-sectional part the learners are trained on (the shared
        market move is most of a return's variance and none of its rank)."""
        z = pd.DataFrame(self.z)
        return (z - z.groupby(self.timestamp).transform("mean")).to_numpy()

    def frame(self, rows: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(self.features[rows], columns=self.columns)


def _stride(store: CandleStore, tickers: list[str], timeframe: Timeframe) -> int:
    total = sum(store.row_count(t, timeframe) for t in tickers)
    return max(1, math.ceil(total / ROW_BUDGET))


def market_context(
    store: CandleStore, tickers: list[str], timeframe: Timeframe
) -> tuple[dict[str, str], MarketContext | None]:
    """The benchmarks among `tickers` (ranked) that the store holds at this timeframe."""
    market = {
        base: ticker
        for base, ticker in choose_benchmarks(tickers).items()
        if store.exists(ticker, timeframe)
    }
    return market, stored_context(store, market, timeframe)


def stored_context(
    store: CandleStore, market: dict[str, str], timeframe: Timeframe
) -> MarketContext | None:
    """A model's benchmarks (base -> ticker) as the store holds them; None for no benchmarks."""
    if not market:
        return None
    frames = {base: store.read(ticker, timeframe) for base, ticker in market.items()}
    return MarketContext.from_candles(frames)


def build_panel(store: CandleStore, tickers: list[str], timeframe: Timeframe) -> Panel:
    market, context = market_context(store, tickers, timeframe)
    columns = feature_columns(timeframe, tuple(market))
    stride = _stride(store, tickers, timeframe)
    parts: list[dict] = []
    offset = 0
    for ticker in tickers:
        candles = store.read(ticker, timeframe)
        if len(candles) <= 40:
            continue
        features = compute_features(candles, timeframe, context)
        log_close = np.log(candles["close"].to_numpy(dtype="float64"))
        stamps = candles["timestamp"].to_numpy(dtype="datetime64[ms]")
        sigma = features[VOLATILITY_COLUMN].to_numpy()
        valid = features.notna().all(axis=1).to_numpy() & (sigma > 0)
        index = timeframe.candle_index(stamps)
        # Every coin keeps the same candles (the same hours of day), whatever its first row.
        rows = np.flatnonzero(valid & (index % stride == 0))
        if len(rows) == 0:
            continue
        # The target of horizon h is the candle h periods later by the calendar: across a gap
        # in the series there is none, rather than a later candle counted as h rows.
        wanted = index[rows][:, None] + HORIZONS[None, :]
        ahead = np.minimum(np.searchsorted(index, wanted), len(candles) - 1)
        exists = index[ahead] == wanted
        parts.append(
            {
                "features": features[columns].to_numpy(dtype="float32")[rows],
                "timestamp": stamps[rows],
                "ticker": np.full(len(rows), ticker, dtype=object),
                "sigma": sigma[rows],
                "last_return": features["ret_1"].to_numpy()[rows],
                "forward": np.where(exists, log_close[ahead] - log_close[rows][:, None], np.nan),
                "target_end": np.where(exists, stamps[ahead], NO_TARGET),
                "series_start": np.full(len(rows), offset, dtype="int64"),
            }
        )
        offset += len(rows)
    if not parts:
        raise ValueError(f"no {timeframe.code} series with enough candles to train on")
    return Panel(
        columns=columns,
        stride=stride,
        market=market,
        **{key: np.concatenate([p[key] for p in parts]) for key in parts[0]},
    )


@dataclass
class Pairs:
    """(row, horizon) pairs in long form, as tree learners and the evaluation consume them."""

    row: np.ndarray
    horizon: np.ndarray  # 1..30

    def __len__(self) -> int:
        return len(self.row)


def pairs(
    panel: Panel,
    rows: np.ndarray,
    ends_before: np.datetime64 | None = None,
    limit: int | None = None,
    seed: int = 7,
) -> Pairs:
    """Every (row, horizon) with a target, optionally only targets ending before a boundary
    (the purge), optionally a uniform random subset of at most `limit` pairs."""
    rows = np.asarray(rows)
    known = ~np.isnan(panel.forward[rows])
    if ends_before is not None:
        known &= panel.target_end[rows] < ends_before
    row_index, horizon_index = np.nonzero(known)
    if limit is not None and len(row_index) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(row_index), limit, replace=False))
        row_index, horizon_index = row_index[keep], horizon_index[keep]
    return Pairs(rows[row_index], (horizon_index + 1).astype("int16"))
