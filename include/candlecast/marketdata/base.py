"""The market data provider interface and the candle frame every provider returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pandas as pd

from candlecast.timeframes import Timeframe

# timestamp is the candle's open time, datetime64[ms, UTC]; all other columns are float64.
CANDLE_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "vwap",
    "trades",
)


QUOTES = ("USDT", "USDC", "FDUSD", "USD", "EUR", "BTC", "ETH")


def split_pair(pair: str) -> tuple[str, str]:
    """'BTCUSDT' or 'X:BTCUSDT' → ('BTC', 'USDT'), by the known quote currencies."""
    pair = pair.removeprefix("X:")
    for quote in QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return pair[: -len(quote)], quote
    raise ValueError(f"cannot split pair {pair!r} into base and quote")


@dataclass(frozen=True)
class TickerInfo:
    ticker: str  # provider style, e.g. X:BTCUSDT
    name: str
    base: str
    quote: str
    active: bool = True


def empty_candles() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in CANDLE_COLUMNS})
    frame["timestamp"] = pd.Series(dtype="datetime64[ms, UTC]")
    return frame


@dataclass(frozen=True)
class FetchRequest:
    ticker: str
    timeframe: Timeframe
    start: pd.Timestamp  # inclusive candle open
    end: pd.Timestamp  # exclusive


def fetch_sequentially(provider, requests: list[FetchRequest]) -> list[pd.DataFrame | Exception]:
    """fetch_many for providers without a concurrent path: one request after another."""
    results: list[pd.DataFrame | Exception] = []
    for r in requests:
        try:
            results.append(provider.fetch_candles(r.ticker, r.timeframe, r.start, r.end))
        except LookupError as error:
            results.append(error)
    return results


class MarketDataProvider(Protocol):
    name: str

    def now(self) -> pd.Timestamp:
        """The provider's present: candles that close after it are not complete."""

    def list_tickers(self) -> list[TickerInfo]: ...

    def daily_usd_volumes(self, day: date) -> dict[str, float]:
        """USD volume of every ticker on one UTC day (one grouped call, not one per symbol)."""

    def fetch_candles(
        self, ticker: str, timeframe: Timeframe, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Candles opening in [start, end), columns CANDLE_COLUMNS, unsorted input tolerated."""

    def fetch_many(self, requests: list[FetchRequest]) -> list[pd.DataFrame | Exception]:
        """One result per request, in order: candles, or the error that series failed with."""
