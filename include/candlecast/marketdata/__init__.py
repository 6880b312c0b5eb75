"""Market data providers.

    `base`            the provider interface and the candle frame
    `polygon`         the Polygon/Massive REST client and the provider built on it
    `bars`            provider bars as candle frames
    `sample`          the offline sample provider
    `provider_retry`  the provider's errors, and its 429 retry and backoff
    `provider_quota`  the provider's request limit, shared through Redis
    `__init__`        `get_provider`: the one chosen by settings

May import: `candlecast.ops` (the Redis client, for the limiter), `candlecast.settings`,
`candlecast.timeframes`.
"""

from __future__ import annotations

from candlecast.marketdata.bars import resample_daily
from candlecast.marketdata.base import (
    CANDLE_COLUMNS,
    FetchRequest,
    MarketDataProvider,
    TickerInfo,
    empty_candles,
    fetch_sequentially,
    split_pair,
)
from candlecast.marketdata.polygon import PolygonClient, PolygonProvider
from candlecast.marketdata.provider_quota import SlidingWindowLimiter
from candlecast.marketdata.provider_retry import (
    ProviderAuthError,
    ProviderError,
    ProviderTransientError,
)
from candlecast.marketdata.sample import SampleProvider
from candlecast.settings import Settings


def get_provider(settings: Settings) -> MarketDataProvider:
    if settings.provider_name == "sample":
        return SampleProvider(settings.candlecast_sample_dir, now=_frozen_now(settings))
    if settings.polygon_api_key is None:
        raise ValueError("CANDLECAST_PROVIDER=polygon needs POLYGON_API_KEY")
    limiter = None
    if settings.polygon_requests_per_minute:
        from candlecast.ops import redis_client

        limiter = SlidingWindowLimiter(
            redis_client(settings),
            "candlecast:ratelimit:polygon",
            settings.polygon_requests_per_minute,
            window_seconds=settings.polygon_rate_window_seconds,
        )
    client = PolygonClient(
        settings.polygon_api_key.get_secret_value(),
        settings.polygon_base_url,
        limiter=limiter,
        timeout=settings.polygon_timeout_seconds,
        max_retries=settings.polygon_max_retries,
        backoff_seconds=settings.polygon_backoff_seconds,
        rate_limit_patience=settings.polygon_rate_limit_patience_seconds,
        max_concurrency=settings.polygon_max_concurrency,
    )
    return PolygonProvider(client, now=_frozen_now(settings))


def _frozen_now(settings: Settings):
    if settings.candlecast_now is None:
        return None
    import pandas as pd

    now = pd.Timestamp(settings.candlecast_now)
    return now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")


__all__ = [
    "CANDLE_COLUMNS",
    "FetchRequest",
    "MarketDataProvider",
    "PolygonClient",
    "PolygonProvider",
    "ProviderAuthError",
    "ProviderError",
    "ProviderTransientError",
    "SampleProvider",
    "SlidingWindowLimiter",
    "TickerInfo",
    "empty_candles",
    "fetch_sequentially",
    "get_provider",
    "resample_daily",
    "split_pair",
]
