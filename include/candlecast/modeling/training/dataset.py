"""The cross-symbol training panel: features at each candle t, forward log returns at t+1..t+30.

Wide form (one row per symbol and candle, 30 targets per row) keeps memory at one copy of the
features; learners expand it to (row, horizon) pairs as they need. The target of horizon h ends
at the candle h periods after the row's by the calendar (or there is none: NaN), so a row's
candle index is all the purge between time windows needs: no end time is stored per target.

Memory, per panel row: the float32 features (4 bytes each, ~700 bytes at 1h), the float32
targets (120 bytes) and a few scalars (48 bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from candlecast.modeling.features import VOLATILITY_COLUMN, compute_features, feature_columns
from candlecast.modeling.market_context import MarketContext, choose_benchmarks
from candlecast.ohlcv import CandleStore
from candlecast.timeframes import MAX_STEPS, Timeframe

HORIZONS = np.arange(1, MAX_STEPS + 1)
# Panel rows kept in memory; above it every k-th candle is kept. A row costs ~0.9 KB (the float32
# features and targets, see above), so 6 M rows are ~5 GB of panel and a training peak under
# 8 GB; 500 coins of 1h at full retention are 4.38 M rows and keep every candle. The stride
# only applies from ~690 coins of 1h (~920 of 4h).
ROW_BUDGET = 6_000_000
NO_TARGET = np.datetime64("NaT", "ms")
CHUNK_ROWS = 250_000  # rows per step where a pass over the panel would copy (n, 30) arrays


@dataclass
class Panel:
    """Rows ordered by symbol then time; `series_start[i]` is the first row of row i's symbol."""

    features: np.ndarray  # (n, F) float32
    columns: list[str]
    timestamp: np.ndarray  # (n,) datetime64[ms], candle open
    candle: np.ndarray  # (n,) int64, the timeframe's candle index of the row (candle_index)
    ticker: np.ndarray  # (n,) object
    sigma: np.ndarray  # (n,) trailing volatility, the target scale
    last_return: np.ndarray  # (n,) one-candle log return into t (the momentum baseline)
    forward: np.ndarray  # (n, 30) float32 log(C[t+h] / C[t]), NaN where there is no candle t+h
    series_start: np.ndarray  # (n,) int64
    timeframe: Timeframe
    stride: int = 1
    market: dict[str, str] = field(default_factory=dict)  # benchmark base -> ticker

    def __len__(self) -> int:
        return len(self.timestamp)

    def z(self, rows: np.ndarray, horizon: np.ndarray | None = None) -> np.ndarray:
        """Horizon-normalised targets, log return / (sigma * sqrt(h)): of (row, horizon) pairs,
        or without `horizon` of every horizon of `rows` (len(rows), 30)."""
        rows = np.asarray(rows)
        if horizon is None:
            forward = self.forward[rows].astype("float64")
            return forward / (self.sigma[rows][:, None] * np.sqrt(HORIZONS)[None, :])
        horizon = np.asarray(horizon)
        forward = self.forward[rows, horizon - 1].astype("float64")
        return forward / (self.sigma[rows] * np.sqrt(horizon))

    def relative_z(self, rows: np.ndarray, horizon: np.ndarray | None = None) -> np.ndarray:
        """z less the mean z of every coin at the same candle (per horizon): what one coin does
        against the others, the cross-sectional part the learners are trained on (the shared
        market move is most of a return's variance and none of its rank)."""
        rows = np.asarray(rows)
        group, mean = self._candle_means
        if horizon is None:
            return self.z(rows) - mean[group[rows]]
        horizon = np.asarray(horizon)
        return self.z(rows, horizon.astype("int64")) - mean[group[rows], horizon - 1]

    def returns(self, rows: np.ndarray, horizon: np.ndarray) -> np.ndarray:
        """The float64 log return of (row, horizon) pairs (NaN where there is no target)."""
        return self.forward[np.asarray(rows), np.asarray(horizon) - 1].astype("float64")

    @cached_property
    def _candle_means(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's candle (a group number) and the mean z of every coin at each candle, per
        horizon (NaN where no coin has a target): (n,) and (candles, 30)."""
        _, group = np.unique(self.timestamp, return_inverse=True)
        group = group.reshape(-1)
        size = int(group.max()) + 1 if len(group) else 0
        mean = np.empty((size, MAX_STEPS))
        for h in HORIZONS:
            z = self.forward[:, h - 1].astype("float64") / (self.sigma * np.sqrt(h))
            known = ~np.isnan(z)
            total = np.bincount(group, weights=np.where(known, z, 0.0), minlength=size)
            count = np.bincount(group, weights=known, minlength=size)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean[:, h - 1] = np.where(count > 0, total / count, np.nan)
        return group, mean

    def target_end(self, rows: np.ndarray, horizon: np.ndarray | None = None) -> np.ndarray:
        """Open time of the candle that ends each target (NaT where there is none): of (row,
        horizon) pairs, or without `horizon` of every horizon of `rows`."""
        rows = np.asarray(rows)
        if horizon is None:
            end = self.candle[rows][:, None] + HORIZONS[None, :]
            exists = ~np.isnan(self.forward[rows])
        else:
            horizon = np.asarray(horizon)
            end = self.candle[rows] + horizon
            exists = ~np.isnan(self.forward[rows, horizon - 1])
        return np.where(exists, self.timeframe.candle_open(end), NO_TARGET)

    def known(self, rows: np.ndarray, ends_before: np.datetime64 | None = None) -> np.ndarray:
        """(len(rows), 30) bool: the targets that exist and, with `ends_before`, end before it
        (the purge), computed a chunk of rows at a time (no (n, 30) copy of the targets)."""
        rows = np.asarray(rows)
        out = np.empty((len(rows), MAX_STEPS), dtype=bool)
        first = None if ends_before is None else self.timeframe.first_candle_from(ends_before)
        for lo in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[lo : lo + CHUNK_ROWS]
            block = ~np.isnan(self.forward[chunk])
            if first is not None:  # the candle ending the target opens before the boundary
                block &= HORIZONS[None, :] < (first - self.candle[chunk])[:, None]
            out[lo : lo + CHUNK_ROWS] = block
        return out


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


class _Columns:
    """Growable arrays filled a series at a time: one copy of the panel, never a list of parts
    plus their concatenation (which held the features twice)."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.length, self.arrays = max(capacity, 1), 0, {}

    def append(self, part: dict[str, np.ndarray]) -> None:
        n = len(next(iter(part.values())))
        if self.length + n > self.capacity:
            self.capacity = max(self.length + n, self.capacity + self.capacity // 2)
            for key, array in self.arrays.items():
                grown = np.empty((self.capacity, *array.shape[1:]), dtype=array.dtype)
                grown[: self.length] = array[: self.length]
                self.arrays[key] = grown
        for key, values in part.items():
            if key not in self.arrays:
                self.arrays[key] = np.empty((self.capacity, *values.shape[1:]), values.dtype)
            self.arrays[key][self.length : self.length + n] = values
        self.length += n

    def finished(self) -> dict[str, np.ndarray]:
        # A view of the filled rows: the tail was never written, so it holds no memory.
        return {key: array[: self.length] for key, array in self.arrays.items()}


def build_panel(store: CandleStore, tickers: list[str], timeframe: Timeframe) -> Panel:
    market, context = market_context(store, tickers, timeframe)
    columns = feature_columns(timeframe, tuple(market))
    counts = [store.row_count(t, timeframe) for t in tickers]
    stride = max(1, math.ceil(sum(counts) / ROW_BUDGET))
    out = _Columns(sum(math.ceil(c / stride) for c in counts))
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
        if (timeframe.candle_open(index) != stamps).any():
            raise ValueError(f"{ticker} {timeframe.code}: candles not aligned to the timeframe")
        # Every coin keeps the same candles (the same hours of day), whatever its first row.
        rows = np.flatnonzero(valid & (index % stride == 0))
        if len(rows) == 0:
            continue
        # The target of horizon h is the candle h periods later by the calendar: across a gap
        # in the series there is none, rather than a later candle counted as h rows.
        wanted = index[rows][:, None] + HORIZONS[None, :]
        ahead = np.minimum(np.searchsorted(index, wanted), len(candles) - 1)
        exists = index[ahead] == wanted
        forward = np.where(exists, log_close[ahead] - log_close[rows][:, None], np.nan)
        out.append(
            {
                "features": features[columns].to_numpy(dtype="float32")[rows],
                "timestamp": stamps[rows],
                "candle": index[rows],
                "ticker": np.full(len(rows), ticker, dtype=object),
                "sigma": sigma[rows],
                "last_return": features["ret_1"].to_numpy()[rows],
                "forward": forward.astype("float32"),
                "series_start": np.full(len(rows), out.length, dtype="int64"),
            }
        )
    if not out.length:
        raise ValueError(f"no {timeframe.code} series with enough candles to train on")
    return Panel(
        columns=columns, timeframe=timeframe, stride=stride, market=market, **out.finished()
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
    known = panel.known(rows, ends_before)
    per_row = known.sum(axis=1)
    total = int(per_row.sum())
    if limit is None or total <= limit:
        row_index, horizon_index = np.nonzero(known)
    else:
        # The same pairs as np.nonzero(known)[keep], without listing every pair first (two
        # int64 arrays of n * 30 at 1h): the keep-th true of `known`, in row-major order.
        keep = np.sort(np.random.default_rng(seed).choice(total, limit, replace=False))
        ends = np.cumsum(per_row)
        row_index = np.searchsorted(ends, keep, side="right")
        rank = keep - (ends[row_index] - per_row[row_index])
        horizon_index = np.argmax(np.cumsum(known[row_index], axis=1) > rank[:, None], axis=1)
    return Pairs(rows[row_index], (horizon_index + 1).astype("int16"))
