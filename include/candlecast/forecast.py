"""The serving path: candles → shared features → direct 30-step forecast → stored prediction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import pandas as pd
import psycopg
from pydantic import BaseModel

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
    model: str
    last_candle_at: datetime
    last_close: float
    direction: Literal["up", "down"]
    confidence: float
    steps: list[ForecastStep]


def make_forecast(
    model: ForecastModel,
    model_tag: str,
    candles: pd.DataFrame,
    ticker: str,
    timeframe: Timeframe,
    steps: int,
) -> Forecast:
    if len(candles) < WARMUP_CANDLES:
        raise InsufficientHistory(ticker, timeframe, WARMUP_CANDLES, len(candles))
    features = compute_features(candles, timeframe)
    path = model.forecast_path(candles, features, steps)
    last_open = candles["timestamp"].iloc[-1]
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
    return Forecast(
        prediction_id=str(uuid.uuid4()),
        symbol=ticker,
        timeframe=timeframe.code,
        model=model_tag,
        last_candle_at=last_open,
        last_close=float(candles["close"].iloc[-1]),
        direction=final.direction,
        confidence=final.confidence,
        steps=forecast_steps,
    )


def persist_forecast(
    conn: psycopg.Connection, forecast: Forecast, symbol_id: int, model_id: int
) -> None:
    """The prediction and all its steps in one transaction."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO predictions (id, symbol_id, timeframe, model_id, steps, last_candle_at,
                                     last_close, direction, confidence)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
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
            ),
        )
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
