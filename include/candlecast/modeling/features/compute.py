"""The feature frame of one series: every family in order, the market's last, warm-up rows NaN;
and the names of its columns for a timeframe and benchmarks."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from candlecast.modeling.features.families import (
    WARMUP_CANDLES,
    add_calendar,
    add_momentum,
    add_pandas_ta,
    add_patterns,
    add_returns,
    add_shape,
    add_trend,
    add_volatility,
    add_volume,
)
from candlecast.modeling.features.market import add_market, market_columns
from candlecast.modeling.market_context import MarketContext
from candlecast.timeframes import Timeframe

FEATURE_SET_VERSION = "v2"
VOLATILITY_COLUMN = "vol_24"  # scale of the targets: trailing std of one-candle log returns


@cache
def _column_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(names)


def compute_features(
    candles: pd.DataFrame, timeframe: Timeframe, market: MarketContext | None = None
) -> pd.DataFrame:
    """Feature frame aligned with `candles` (sorted, clean); warm-up rows hold NaN. With a
    market context, the market columns follow the coin's own (see `market_columns`)."""
    o, h, lo, c, v = (
        candles[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close", "volume")
    )
    vwap = candles["vwap"].to_numpy(dtype="float64") if "vwap" in candles else c
    out: dict[str, np.ndarray] = {}
    add_returns(c, np.log(c), out)
    add_trend(o, h, lo, c, out)
    add_momentum(o, h, lo, c, v, out)
    add_volatility(o, h, lo, c, out)
    add_volume(h, lo, c, v, vwap, out)
    add_shape(o, h, lo, c, out)
    add_patterns(o, h, lo, c, out)
    add_pandas_ta(o, h, lo, c, out)
    stamps = candles["timestamp"].to_numpy("datetime64[ns]")
    add_calendar(stamps, timeframe, out)
    if market is not None:
        add_market(stamps, market, out)
    values = np.array(list(out.values()), dtype="float64").T  # column-major, as pandas stores it
    values[~np.isfinite(values)] = np.nan
    values[: WARMUP_CANDLES - 1] = np.nan
    return pd.DataFrame(values, columns=_column_index(tuple(out)), index=candles.index, copy=False)


def feature_columns(timeframe: Timeframe, market_bases: tuple[str, ...] = ()) -> list[str]:
    """The names compute_features produces for this timeframe (and these benchmarks), in order."""
    return list(_probe_columns(timeframe.code)) + market_columns(tuple(market_bases))


@cache
def _probe_columns(code: str) -> tuple[str, ...]:
    from candlecast.timeframes import TIMEFRAMES

    stamps = pd.date_range("2024-01-01", periods=WARMUP_CANDLES + 5, freq="D", tz="UTC")
    n = len(stamps)
    probe = pd.DataFrame(
        {
            "timestamp": stamps,
            "open": np.linspace(1, 2, n),
            "high": np.linspace(1.1, 2.1, n),
            "low": np.linspace(0.9, 1.9, n),
            "close": np.linspace(1.05, 2.05, n),
            "volume": np.linspace(5, 9, n),
            "vwap": np.linspace(1, 2, n),
        }
    )
    return tuple(compute_features(probe, TIMEFRAMES[code]).columns)
