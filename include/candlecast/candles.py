"""Fresh candles for serving: Redis first, else the provider, cleaned by the shared cleaner."""

from __future__ import annotations

import logging

import pandas as pd
import redis

from candlecast.cache import candles_key, get_frame, put_frame
from candlecast.cleaning import clean_candles
from candlecast.marketdata.base import MarketDataProvider
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)

SERVING_CANDLES = 500  # enough for recursive indicators (EMA, RSI, ATR) to match training


def recent_candles(
    provider: MarketDataProvider,
    client: redis.Redis,
    ticker: str,
    timeframe: Timeframe,
    ttl_seconds: int,
    count: int = SERVING_CANDLES,
) -> pd.DataFrame:
    key = candles_key(ticker, timeframe.code)
    cached = get_frame(client, key)
    if cached is not None:
        return cached
    now = provider.now()
    start = timeframe.next_open(timeframe.floor(now), -count)
    raw = provider.fetch_candles(ticker, timeframe, start, now)
    candles, _ = clean_candles(raw, timeframe, now, label=ticker)
    put_frame(client, key, candles, ttl_seconds)
    return candles
