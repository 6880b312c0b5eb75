"""Row-wise facts Great Expectations cannot see across rows or series, derived as columns of
one series' batch before the suite runs: alignment to the timeframe, increasing timestamps, not
in the future, the move from the previous candle judged on the series' own scale (`moves`),
and the gap before each candle."""

from __future__ import annotations

import numpy as np
import pandas as pd

from candlecast.marketdata import CANDLE_COLUMNS
from candlecast.ohlcv import moves
from candlecast.ohlcv.validation.suites import PRICE_COLUMNS
from candlecast.timeframes import Timeframe


def _sound(part: pd.DataFrame, timeframe: Timeframe) -> pd.Series:
    """Candles whose prices and timestamp can be measured at all."""
    prices = part[list(PRICE_COLUMNS)]
    body_high = part[["open", "close"]].max(axis=1)
    body_low = part[["open", "close"]].min(axis=1)
    return (
        (prices > 0).all(axis=1)
        & np.isfinite(prices).all(axis=1)
        & (part["high"] >= body_high)
        & (part["low"] <= body_low)
        & part["aligned_to_timeframe"]
        & part["increasing"]
        & ~part["timestamp"].duplicated(keep=False)
    )


def derive_checks(
    frame: pd.DataFrame,
    timeframe: Timeframe,
    now: pd.Timestamp,
    context: pd.DataFrame | None = None,
    hourly: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The facts the OHLCV suite expects of one series, and the move verdict of each candle
    (`moves.assess`: verdict, note; NaN rows for candles too broken to measure)."""
    part = frame.loc[:, list(CANDLE_COLUMNS)].reset_index(drop=True)
    part["aligned_to_timeframe"] = timeframe.aligned(part["timestamp"])
    increasing = part["timestamp"].diff().gt(pd.Timedelta(0))
    if len(part):
        increasing.iloc[0] = True  # the first candle has nothing before it
    part["increasing"] = increasing
    part["not_in_future"] = part["timestamp"] < now
    sound = _sound(part, timeframe)
    before = part["timestamp"].iloc[0] if len(part) else None
    history = (
        context.loc[context["timestamp"] < before, list(CANDLE_COLUMNS)]
        if context is not None and before is not None
        else part.iloc[:0, : len(CANDLE_COLUMNS)]
    )
    measured = pd.concat([history, part.loc[sound, list(CANDLE_COLUMNS)]], ignore_index=True)
    assessed = moves.assess(measured, timeframe, len(history), hourly)
    assessed.index = part.index[sound]
    verdicts = assessed.reindex(part.index)
    part["not_a_print"] = ~verdicts["verdict"].isin(moves.HELD_VERDICTS)
    part["move_plausible"] = verdicts["verdict"].ne("flag")
    # Gaps are in the candles as fetched (a held candle is not a gap in the provider's data).
    stamps = pd.concat([history["timestamp"].iloc[-1:], part["timestamp"]], ignore_index=True)
    part["missing_before"] = moves.missing_before(stamps, timeframe)[len(stamps) - len(part) :]
    verdicts["missing_before"] = part["missing_before"]
    verdicts["timestamp"] = part["timestamp"]
    return part, verdicts
