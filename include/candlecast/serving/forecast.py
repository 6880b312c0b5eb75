"""The serving path: candles → shared features → direct multi-step forecast → stored rows."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from candlecast.api import Forecast, ForecastStep, HorizonEvidence
from candlecast.modeling import (
    DEFAULT_RANK_FEE,
    WARMUP_CANDLES,
    BenchmarkSeries,
    CandleShape,
    ForecastModel,
    MarketContext,
    ServingInputs,
    compute_features,
)
from candlecast.serving.fresh_candles import CandleWindow, feature_window
from candlecast.serving.lru import LruCache
from candlecast.serving.relative_steps import RelativeSteps, Universe, relative_steps
from candlecast.timeframes import MAX_STEPS, Timeframe


class InsufficientHistory(ValueError):
    def __init__(self, ticker: str, timeframe: Timeframe, needed: int, have: int) -> None:
        super().__init__(
            f"{ticker} has {have} closed {timeframe.code} candles; the features need at least "
            f"{needed}"
        )
        self.needed, self.have = needed, have


DEFAULT_INDICATORS = ("rsi_14", "ret_24_z", "vol_ratio_5_24")
MAX_INDICATORS = 5
INPUT_CACHE_SIZE = 2048


@dataclass(frozen=True)
class SeriesInputs:
    """What a forecast needs of one series' candles and features, as of its last closed candle:
    the model's inputs, the indicators shown, the candles' shape and the next open times."""

    model_inputs: ServingInputs
    indicators: dict[str, float | None]
    shape: CandleShape
    opens: tuple[datetime, ...]  # of the MAX_STEPS candles after the last


class InputCache:
    """Features are a pure function of the candles and change only when a candle closes: keep
    each series' serving inputs (a few KB, not the whole feature frame), newest used last."""

    def __init__(self, size: int = INPUT_CACHE_SIZE) -> None:
        self._entries: LruCache[tuple, SeriesInputs] = LruCache(size)

    def get(self, key: tuple, build: Callable[[], SeriesInputs]) -> SeriesInputs:
        entry = self._entries.get(key)
        if entry is None:
            entry = build()
            self._entries.put(key, entry)
        return entry


def key_indicators(model: ForecastModel, features: pd.DataFrame) -> dict[str, float | None]:
    names = list(model.info.get("top_features") or DEFAULT_INDICATORS)
    last = features.iloc[-1]
    chosen = [n for n in names if n in features.columns][:MAX_INDICATORS]
    return {n: (float(last[n]) if math.isfinite(float(last[n])) else None) for n in chosen}


def model_evidence(
    model: ForecastModel, fee: float = DEFAULT_RANK_FEE
) -> tuple[HorizonEvidence, ...]:
    """The validation evidence per horizon 1..30, as the API shows it (spreads net of `fee`)."""
    return tuple(HorizonEvidence(**row) for row in model.calibration.skill_table(fee))


class MarketContextBehind(ValueError):
    """A benchmark's newest candle is older than the coin's: its context row does not exist."""


def market_context(
    model: ForecastModel, windows: Mapping[str, CandleWindow], last_open: pd.Timestamp
) -> MarketContext | None:
    """The model's benchmarks from their fresh-candle windows (base -> window), or None for a
    model trained without market context."""
    if not model.market:
        return None
    missing = [base for base in model.market if base not in windows]
    if missing:
        raise ValueError(f"market context without {', '.join(missing)}")
    for base in model.market:
        bench_last = windows[base].last_candle_at
        if bench_last < last_open:
            raise MarketContextBehind(
                f"{model.market[base]}'s last {windows[base].timeframe.code} candle "
                f"({bench_last.isoformat()}) is older than the forecast's "
                f"({pd.Timestamp(last_open).isoformat()})"
            )
    return MarketContext({base: benchmark_series(windows[base].frame) for base in model.market})


_BENCHMARKS: LruCache[int, tuple[pd.DataFrame, BenchmarkSeries]] = LruCache(64)


def benchmark_series(frame: pd.DataFrame) -> BenchmarkSeries:
    """The benchmark series of a fresh-candle frame, built once per frame: a worker hands every
    request the same decoded frame (shared, never written) until a new copy arrives, so its
    returns and volatilities are computed once, not once per forecast. The entry holds the
    frame, so its id cannot name another frame while it is kept."""
    held = _BENCHMARKS.get(id(frame))
    if held is not None and held[0] is frame:
        return held[1]
    series = BenchmarkSeries.from_candles(frame)
    _BENCHMARKS.put(id(frame), (frame, series))
    return series


def series_inputs(
    model: ForecastModel,
    model_tag: str,
    window: CandleWindow,
    input_cache: InputCache | None = None,
    market_windows: Mapping[str, CandleWindow] | None = None,
) -> SeriesInputs:
    """What a forecast reads of the window's features, from the cache of the series' inputs
    when it holds them (one computation per series, model and candle: /predict and /rank share
    it). Raises InsufficientHistory, MarketContextBehind."""
    ticker, timeframe = window.ticker, window.timeframe
    rows = min(len(window.frame), feature_window(window.timeframe))
    if rows < WARMUP_CANDLES:
        raise InsufficientHistory(ticker, timeframe, WARMUP_CANDLES, rows)
    last_open = window.last_candle_at
    market = market_context(model, market_windows or {}, last_open)

    def build() -> SeriesInputs:
        candles = window.frame.iloc[-rows:].reset_index(drop=True)
        features = compute_features(candles, timeframe, market)
        opens = timeframe.next_opens(last_open, MAX_STEPS)
        return SeriesInputs(
            model.serving_inputs(features),
            key_indicators(model, features),
            CandleShape.of(candles),
            tuple(pd.Timestamp(o).to_pydatetime() for o in opens),
        )

    if input_cache is None:
        return build()
    context_key = market.fingerprint() if market is not None else ()
    return input_cache.get((ticker, timeframe.code, last_open, rows, model_tag, context_key), build)


def _forecast_steps(path: dict, relative: RelativeSteps, opens) -> list[ForecastStep]:
    """Each step of the forecast path as the API answers it, with its relative fields."""
    return [
        ForecastStep(
            step=int(k),
            timestamp=opens[i],
            open=float(path["open"][i]),
            high=float(path["high"][i]),
            low=float(path["low"][i]),
            close=float(path["close"][i]),
            close_low_80=float(path["close_low_80"][i]),
            close_high_80=float(path["close_high_80"][i]),
            direction=str(path["direction"][i]),
            confidence=float(path["confidence"][i]),
            skill="validated" if path["skill"][i] else "none",
            relative_skill="validated" if path["relative_skill"][i] else "none",
            relative_z=float(relative.relative_z[i]),
            percentile=relative.percentile(i),
            p_outperform=float(relative.p_outperform[i]),
        )
        for i, k in enumerate(path["horizons"])
    ]


def make_forecast(
    model: ForecastModel,
    model_tag: str,
    window: CandleWindow,
    steps: int,
    input_cache: InputCache | None = None,
    evidence: Sequence[HorizonEvidence] | None = None,
    market_windows: Mapping[str, CandleWindow] | None = None,
    universe: Universe | None = None,
) -> Forecast:
    """`evidence`: the model's per-horizon evidence, built once per model by a caller that
    serves many forecasts (LoadedModel); built here otherwise. `market_windows`: the fresh
    candles of the model's benchmarks (base -> window), for a model trained with them.
    `universe`: the served universe's predictions at the window's candle (relative fields)."""
    ticker, timeframe = window.ticker, window.timeframe
    inputs = series_inputs(model, model_tag, window, input_cache, market_windows)
    last_open = window.last_candle_at
    raw = model.path_raw_z(inputs.model_inputs, steps)
    path = model.path_from_raw(raw, inputs.model_inputs.sigma, inputs.shape)
    relative = relative_steps(model, model_tag, raw, universe, ticker)
    forecast_steps = _forecast_steps(path, relative, inputs.opens)
    final = forecast_steps[-1]
    name, _, version = model_tag.partition(":")
    return Forecast(
        prediction_id=str(uuid.uuid4()),
        symbol=ticker,
        timeframe=timeframe.code,
        model=model_tag,
        model_name=name,
        model_version=version,
        generated_at=datetime.now(UTC),
        last_candle_at=last_open,
        last_close=inputs.shape.last_close,
        data_age_seconds=window.data_age_seconds,
        stale=window.stale,
        direction=final.direction,
        confidence=final.confidence,
        mean_confidence=sum(s.confidence for s in forecast_steps) / len(forecast_steps),
        indicators=dict(inputs.indicators),
        persisted=False,
        skill=list(evidence if evidence is not None else model_evidence(model))[:steps],
        universe_size=relative.universe_size,
        steps=forecast_steps,
    )


def steps_json(steps: list[ForecastStep]) -> str:
    """The steps as one JSON document: one query parameter instead of ten arrays to adapt."""
    return json.dumps([step.model_dump(mode="json") for step in steps])


def persist_forecast(
    conn: psycopg.Connection,
    forecast: Forecast,
    symbol_id: int,
    model_id: int,
    cache_key: str = "",
    shadow_of: str | None = None,
) -> None:
    """The prediction and all its steps in one statement (so one round trip and atomic on its
    own); a repeated id writes nothing. `shadow_of`: the champion forecast of the request this
    (challenger's) forecast shadows; stored as a shadow, never read back by the API."""
    conn.execute(
        """
        WITH prediction AS (
            INSERT INTO predictions (id, symbol_id, timeframe, model_id, steps, last_candle_at,
                                     last_close, direction, confidence, generated_at, cache_key,
                                     stale, data_age_seconds, indicators, shadow, shadow_of)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (id) DO NOTHING
            RETURNING id
        )
        INSERT INTO prediction_steps (prediction_id, step, timestamp, open, high, low, close,
                                      close_low_80, close_high_80, direction, confidence,
                                      relative_z, percentile, p_outperform)
        SELECT prediction.id, step.*
        FROM prediction,
             jsonb_to_recordset(%s::jsonb) AS step(
                 step smallint, timestamp timestamptz, open float8, high float8, low float8,
                 close float8, close_low_80 float8, close_high_80 float8, direction text,
                 confidence float8, relative_z float8, percentile float8, p_outperform float8)
        """,
        (
            forecast.prediction_id,
            symbol_id,
            forecast.timeframe,
            model_id,
            len(forecast.steps),
            forecast.last_candle_at,
            forecast.last_close,
            forecast.direction,
            forecast.confidence,
            forecast.generated_at,
            cache_key,
            forecast.stale,
            forecast.data_age_seconds,
            Jsonb(forecast.indicators),
            shadow_of is not None,
            shadow_of,
            steps_json(forecast.steps),
        ),
    )
