"""The serving path: candles → shared features → direct multi-step forecast → stored rows."""

from __future__ import annotations

import math
import threading
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from candlecast.candles import SERVING_CANDLES, CandleWindow
from candlecast.features import WARMUP_CANDLES, compute_features
from candlecast.modeling.predictor import ForecastModel
from candlecast.timeframes import Timeframe


class InsufficientHistory(ValueError):
    def __init__(self, ticker: str, timeframe: Timeframe, needed: int, have: int) -> None:
        super().__init__(
            f"{ticker} has {have} closed {timeframe.code} candles; the features need at least "
            f"{needed}"
        )
        self.needed, self.have = needed, have


class ForecastStep(BaseModel):
    step: int
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    close_low_80: float
    close_high_80: float
    direction: Literal["up", "down"]
    confidence: float


class Forecast(BaseModel):
    """A served forecast, as the API returns it and as it is stored."""

    prediction_id: str
    symbol: str
    timeframe: str
    model: str = Field(description="The model's BentoML tag, name:version.")
    model_name: str
    model_version: str
    generated_at: datetime
    last_candle_at: datetime = Field(description="Open time of the newest candle used.")
    last_close: float
    data_age_seconds: float = Field(description="Seconds since the newest candle used closed.")
    stale: bool = Field(
        description="True when the candles used are older than the last closed candle "
        "(the provider could not be reached or has nothing newer)."
    )
    direction: Literal["up", "down"] = Field(description="Direction at the last step.")
    confidence: float = Field(description="Direction confidence at the last step.")
    mean_confidence: float
    indicators: dict[str, float | None] = Field(
        description="The features that drive the model most, at the newest candle."
    )
    persisted: bool = Field(description="False when the forecast could not be stored.")
    cached: bool = Field(default=False, description="Served from the prediction cache.")
    steps: list[ForecastStep]


DEFAULT_INDICATORS = ("rsi_14", "ret_24_z", "vol_ratio_5_24")
MAX_INDICATORS = 5
FEATURE_CACHE_SIZE = 32


class FeatureCache:
    """Features are a pure function of the candles: keep the frames of the latest few series."""

    def __init__(self, size: int = FEATURE_CACHE_SIZE) -> None:
        self.size = size
        self._frames: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def features(self, key: tuple, candles: pd.DataFrame, timeframe: Timeframe) -> pd.DataFrame:
        with self._lock:
            if key in self._frames:
                self._frames.move_to_end(key)
                return self._frames[key]
        frame = compute_features(candles, timeframe)
        with self._lock:
            self._frames[key] = frame
            while len(self._frames) > self.size:
                self._frames.popitem(last=False)
        return frame


def key_indicators(model: ForecastModel, features: pd.DataFrame) -> dict[str, float | None]:
    names = list(model.info.get("top_features") or DEFAULT_INDICATORS)
    last = features.iloc[-1]
    chosen = [n for n in names if n in features.columns][:MAX_INDICATORS]
    return {n: (float(last[n]) if math.isfinite(float(last[n])) else None) for n in chosen}


def make_forecast(
    model: ForecastModel,
    model_tag: str,
    window: CandleWindow,
    steps: int,
    feature_cache: FeatureCache | None = None,
) -> Forecast:
    ticker, timeframe = window.ticker, window.timeframe
    candles = window.frame.iloc[-SERVING_CANDLES:].reset_index(drop=True)
    if len(candles) < WARMUP_CANDLES:
        raise InsufficientHistory(ticker, timeframe, WARMUP_CANDLES, len(candles))
    last_open = candles["timestamp"].iloc[-1]
    if feature_cache is None:
        features = compute_features(candles, timeframe)
    else:
        key = (ticker, timeframe.code, last_open, len(candles))
        features = feature_cache.features(key, candles, timeframe)
    path = model.forecast_path(candles, features, steps)
    forecast_steps = [
        ForecastStep(
            step=int(k),
            timestamp=timeframe.next_open(last_open, int(k)),
            open=float(path["open"][i]),
            high=float(path["high"][i]),
            low=float(path["low"][i]),
            close=float(path["close"][i]),
            close_low_80=float(path["close_low_80"][i]),
            close_high_80=float(path["close_high_80"][i]),
            direction=str(path["direction"][i]),
            confidence=float(path["confidence"][i]),
        )
        for i, k in enumerate(path["horizons"])
    ]
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
        last_close=float(candles["close"].iloc[-1]),
        data_age_seconds=window.data_age_seconds,
        stale=window.stale,
        direction=final.direction,
        confidence=final.confidence,
        mean_confidence=sum(s.confidence for s in forecast_steps) / len(forecast_steps),
        indicators=key_indicators(model, features),
        persisted=False,
        steps=forecast_steps,
    )


def persist_forecast(
    conn: psycopg.Connection,
    forecast: Forecast,
    symbol_id: int,
    model_id: int,
    cache_key: str = "",
) -> None:
    """The prediction and all its steps in one transaction; a repeated id writes nothing."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO predictions (id, symbol_id, timeframe, model_id, steps, last_candle_at,
                                     last_close, direction, confidence, generated_at, cache_key,
                                     stale, data_age_seconds, indicators)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (id) DO NOTHING
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
            ),
        )
        if cur.rowcount == 0:
            return
        cur.executemany(
            """
            INSERT INTO prediction_steps (prediction_id, step, timestamp, open, high, low, close,
                                          close_low_80, close_high_80, direction, confidence)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            [
                (
                    forecast.prediction_id,
                    s.step,
                    s.timestamp,
                    s.open,
                    s.high,
                    s.low,
                    s.close,
                    s.close_low_80,
                    s.close_high_80,
                    s.direction,
                    s.confidence,
                )
                for s in forecast.steps
            ],
        )
