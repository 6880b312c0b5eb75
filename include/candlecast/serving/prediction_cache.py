"""Served forecasts kept in Redis: the same question on the same candles gets the same answer
(same prediction_id, no new rows) for `ttl_seconds`; 0 turns the cache off."""

from __future__ import annotations

import pandas as pd

from candlecast.api import Forecast
from candlecast.ops import GuardedRedis


def prediction_key(
    ticker: str, timeframe_code: str, steps: int, model_tag: str, last_candle_at: pd.Timestamp
) -> str:
    stamp = pd.Timestamp(last_candle_at).strftime("%Y%m%dT%H%M")
    return f"candlecast:prediction:{ticker}:{timeframe_code}:{steps}:{model_tag}:{stamp}"


class PredictionCache:
    def __init__(self, cache: GuardedRedis, ttl_seconds: int) -> None:
        self.cache = cache
        self.ttl_seconds = ttl_seconds

    def get(self, key: str) -> Forecast | None:
        if self.ttl_seconds <= 0:
            return None
        payload = self.cache.call("get", key)
        return None if payload is None else Forecast.model_validate_json(payload)

    def put(self, key: str, forecast: Forecast) -> None:
        if self.ttl_seconds > 0:
            self.cache.call("set", key, forecast.model_dump_json(), ex=self.ttl_seconds)
