"""Forecasts at past dates through the served forecaster: one series' features computed once
for the whole range (the function training and serving share), and each date's forecast read
from the row of the last candle closed at that date (`ForecastModel.paths_raw_z` and
`path_from_raw`, the code of every served forecast). Row t of the features reads candles up to t
only, so a candle after a date never reaches its forecast (tests/unit/test_replay.py changes
them all and compares bytes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from candlecast.modeling import (
    VOLATILITY_COLUMN,
    WARMUP_CANDLES,
    CandleShape,
    ForecastModel,
    MarketContext,
    compute_features,
)
from candlecast.modeling.naive_rankers import NAIVE_LOOKBACKS, return_column
from candlecast.modeling.predictor import first_defined_row
from candlecast.replay.dates import naive_ms
from candlecast.timeframes import MAX_STEPS, Timeframe

# Why a series has no forecast at a date (counted per reason in the replay's summary).
NOT_LISTED, NO_CANDLE, WARMING_UP, NO_CONTEXT = (
    "not listed yet", "no candle just before the date (a gap, or delisted)",
    "fewer candles than the features need", "a benchmark lacks the candle",
)  # fmt: skip


@dataclass(frozen=True)
class Version:
    """A model version a replay forecasts with and why it was chosen ('champion at the date', or
    the fallback to the current champion and its reason)."""

    tag: str
    model: ForecastModel
    chosen: str


@dataclass(frozen=True)
class SeriesPlan:
    """One series' dates (their origin candle index) and the version of each date."""

    dates: list[pd.Timestamp]
    origins: np.ndarray  # candle index of the last candle closed at each date
    versions: list[Version]  # one per date


def context_candles(context: MarketContext | None, timeframe: Timeframe) -> dict[str, set[int]]:
    """Each benchmark's candle indices, to tell at which dates its context row exists."""
    if context is None:
        return {}
    return {
        base: set(timeframe.candle_index(naive_ms(series.stamps)).tolist())
        for base, series in context.series.items()
    }


def series_forecasts(
    ticker: str,
    candles: pd.DataFrame,
    timeframe: Timeframe,
    plan: SeriesPlan,
    contexts: dict[tuple, MarketContext | None],
    skipped: dict[str, int],
) -> pd.DataFrame:
    """Every date's 30-step forecast of one series, one row per (date, step); `contexts`: the
    market context of each model's benchmarks (keyed by `tuple(model.market.items())`).
    `skipped` counts the dates without a forecast, by reason."""
    stamps = naive_ms(candles["timestamp"])
    index = timeframe.candle_index(stamps)
    position = np.searchsorted(index, plan.origins)
    found = (position < len(index)) & (index[np.minimum(position, len(index) - 1)] == plan.origins)
    parts = []
    features_by_market: dict[tuple, pd.DataFrame] = {}
    by_version: dict[str, list[int]] = {}
    benchmarks: dict[tuple, dict[str, set[int]]] = {}
    for i, (origin, version) in enumerate(zip(plan.origins, plan.versions, strict=True)):
        reason = None
        if len(index) == 0 or origin < index[0]:
            reason = NOT_LISTED
        elif not found[i]:
            reason = NO_CANDLE
        elif position[i] + 1 < WARMUP_CANDLES:
            reason = WARMING_UP
        else:
            key = tuple(version.model.market.items())
            if key not in benchmarks:
                benchmarks[key] = context_candles(contexts.get(key), timeframe)
            if any(int(origin) not in held for held in benchmarks[key].values()):
                reason = NO_CONTEXT  # serving refuses it too (MarketContextBehind)
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        by_version.setdefault(version.tag, []).append(i)
    versions = {v.tag: v for v in plan.versions}
    for tag, chosen in by_version.items():
        model = versions[tag].model
        key = tuple(model.market.items())
        if key not in features_by_market:
            features_by_market[key] = compute_features(candles, timeframe, contexts.get(key))
        rows = position[chosen]
        parts.append(
            _forecast_rows(
                ticker,
                candles,
                timeframe,
                features_by_market[key],
                versions[tag],
                rows,
                [plan.dates[i] for i in chosen],
            )  # fmt: skip
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _forecast_rows(
    ticker: str,
    candles: pd.DataFrame,
    timeframe: Timeframe,
    features: pd.DataFrame,
    version: Version,
    rows: np.ndarray,
    dates: list[pd.Timestamp],
) -> pd.DataFrame:
    model = version.model
    matrix = features[model.feature_names].to_numpy(dtype="float32")
    raw = model.paths_raw_z(matrix, first_defined_row(matrix), rows, MAX_STEPS)
    sigma = features[VOLATILITY_COLUMN].to_numpy()[rows]
    past = {k: features[return_column(k)].to_numpy()[rows] for k in NAIVE_LOOKBACKS}
    stamps = candles["timestamp"]
    columns: dict[str, list] = {name: [] for name in _PATH_COLUMNS}
    for i, row in enumerate(rows):
        shape = CandleShape.of(candles.iloc[max(0, row - 19) : row + 1])
        path = model.path_from_raw(raw[i], float(sigma[i]), shape)
        for name in _PATH_COLUMNS:
            columns[name].append(path[name])
    n, steps = len(rows), MAX_STEPS
    origin_open = stamps.iloc[rows].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "ticker": ticker,
            "as_of": np.repeat(naive_ms(dates), steps),
            "last_candle_at": np.repeat(naive_ms(origin_open), steps),
            "model": version.tag,
            "step": np.tile(np.arange(1, steps + 1, dtype="int16"), n),
            "last_close": np.repeat(candles["close"].to_numpy()[rows], steps),
            **{name: np.concatenate(values) for name, values in columns.items()},
            "raw_z": raw.reshape(-1),
            "sigma": np.repeat(sigma, steps),
            **{f"ret_{k}": np.repeat(values, steps) for k, values in past.items()},
        }
    )
    frame = frame.rename(columns={"horizons": "horizon"}).drop(columns="horizon")
    frame["timestamp"] = _target_opens(timeframe, frame["last_candle_at"], frame["step"])
    for name in ("as_of", "last_candle_at", "timestamp"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


_PATH_COLUMNS = (
    "horizons", "close", "close_low_80", "close_high_80", "direction", "confidence", "skill",
    "relative_skill",
)  # fmt: skip


def _target_opens(timeframe: Timeframe, origin: pd.Series, step: pd.Series) -> np.ndarray:
    """Open time of the candle `step` candles after each origin, by the calendar."""
    index = timeframe.candle_index(naive_ms(origin)) + step.to_numpy("int64")
    return timeframe.candle_open(index)
