"""One forecast request end to end, independent of BentoML: symbol → candles → forecast → rows."""

from __future__ import annotations

import logging
import re

import redis

from candlecast import db
from candlecast.candles import recent_candles
from candlecast.forecast import Forecast, make_forecast, persist_forecast
from candlecast.marketdata.base import MarketDataProvider
from candlecast.modeling.predictor import ForecastModel
from candlecast.registry import model_row_id
from candlecast.settings import Settings
from candlecast.symbols import close_matches, find_symbol
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)

TICKER_PATTERN = re.compile(r"^(X:)?[A-Z0-9]{2,30}$")


class UnknownSymbol(LookupError):
    def __init__(self, ticker: str, matches: list[str]) -> None:
        hint = f"; did you mean {', '.join(matches)}?" if matches else ""
        super().__init__(f"unknown symbol {ticker!r}{hint}")
        self.matches = matches


def normalise_ticker(value: str) -> str:
    """'btcusdt' and 'X:BTCUSDT' both name X:BTCUSDT; anything else is refused."""
    ticker = value.strip().upper()
    if not TICKER_PATTERN.match(ticker):
        raise ValueError(f"symbol {value!r} is not a ticker like 'X:BTCUSDT'")
    return ticker if ticker.startswith("X:") else f"X:{ticker}"


def predict(
    settings: Settings,
    provider: MarketDataProvider,
    cache: redis.Redis,
    model: ForecastModel,
    model_tag: str,
    ticker: str,
    timeframe: Timeframe,
    steps: int,
) -> Forecast:
    with db.connect(settings) as conn:
        symbol = find_symbol(conn, ticker)
        if symbol is None or not symbol["active"]:
            raise UnknownSymbol(ticker, close_matches(conn, ticker))
        model_id = model_row_id(conn, model_tag)
        if model_id is None:
            raise LookupError(f"model {model_tag} has no row in the models table")
    candles = recent_candles(
        provider, cache, ticker, timeframe, settings.candlecast_candle_cache_ttl_seconds
    )
    forecast = make_forecast(model, model_tag, candles, ticker, timeframe, steps)
    with db.connect(settings) as conn:
        persist_forecast(conn, forecast, symbol["id"], model_id)
    return forecast
