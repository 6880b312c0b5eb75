"""Served forecasts kept in Redis: the same question on the same candles gets the same answer
(same prediction_id, no new rows) for `ttl_seconds`; 0 turns the cache off.

One entry per question (`answer_key`: symbol, timeframe, steps, model), holding the last candle
it was computed on and the answer's JSON without the fields that change from one serving to the
next (`cached`, `stale`, `data_age_seconds`): a repeat is sent as those bytes with the three
fields put in front (`answer_json`), never parsed."""

from __future__ import annotations

import pandas as pd

from candlecast.api import Forecast
from candlecast.ops import GuardedRedis

PER_SERVING = frozenset({"cached", "stale", "data_age_seconds"})


def candle_stamp(last_candle_at: pd.Timestamp) -> str:
    return pd.Timestamp(last_candle_at).strftime("%Y%m%dT%H%M")


def answer_key(ticker: str, timeframe_code: str, steps: int, model_tag: str) -> str:
    return f"candlecast:prediction:{ticker}:{timeframe_code}:{steps}:{model_tag}"


def prediction_key(
    ticker: str, timeframe_code: str, steps: int, model_tag: str, last_candle_at: pd.Timestamp
) -> str:
    """The question on its candles (also stored with the forecast's row)."""
    key = answer_key(ticker, timeframe_code, steps, model_tag)
    return f"{key}:{candle_stamp(last_candle_at)}"


def answer_json(body: bytes, cached: bool, stale: bool, data_age_seconds: float) -> bytes:
    """A stored body (an object without PER_SERVING) with this serving's fields."""
    head = (
        f'{{"cached":{"true" if cached else "false"},"stale":{"true" if stale else "false"},'
        f'"data_age_seconds":{float(data_age_seconds)!r},'
    )
    return head.encode() + body[1:]


def stored_body(entry: bytes | None, stamp: str) -> bytes | None:
    """The body of an entry computed on the candles of `stamp`, else None."""
    if entry is None:
        return None
    entry_stamp, _, body = entry.partition(b"\n")
    return body if entry_stamp == stamp.encode() else None


class PredictionCache:
    def __init__(self, cache: GuardedRedis, ttl_seconds: int) -> None:
        self.cache = cache
        self.ttl_seconds = ttl_seconds

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def get(self, key: str) -> Forecast | None:
        """By `prediction_key`: the answer computed on those candles, if cached."""
        if not self.enabled:
            return None
        question, _, stamp = key.rpartition(":")
        body = stored_body(self.cache.call("get", question), stamp)
        if body is None:
            return None
        return Forecast.model_validate_json(answer_json(body, True, False, 0.0))

    def put(self, key: str, forecast: Forecast) -> None:
        if self.enabled:
            question, _, stamp = key.rpartition(":")
            body = forecast.model_dump_json(exclude=PER_SERVING).encode()
            self.cache.call("set", question, stamp.encode() + b"\n" + body, ex=self.ttl_seconds)
