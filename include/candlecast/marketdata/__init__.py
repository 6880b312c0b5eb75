"""Market data providers: one interface, chosen by settings."""

from __future__ import annotations

from candlecast.marketdata.base import CANDLE_COLUMNS, MarketDataProvider, TickerInfo
from candlecast.settings import Settings


def get_provider(settings: Settings) -> MarketDataProvider:
    if settings.provider_name == "sample":
        from candlecast.marketdata.sample import SampleProvider

        return SampleProvider(settings.candlecast_sample_dir)
    raise NotImplementedError(
        "the Polygon/Massive client is not built yet; unset POLYGON_API_KEY or set "
        "CANDLECAST_PROVIDER=sample to use the bundled sample data"
    )


__all__ = ["CANDLE_COLUMNS", "MarketDataProvider", "TickerInfo", "get_provider"]
