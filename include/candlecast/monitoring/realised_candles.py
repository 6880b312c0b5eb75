"""The realised candles live outcomes are judged on: the Parquet store for the series it keeps
(the universe), the provider for any other ticker a forecast was served for. Closed candles
only, as of the provider's now; one read per series per run."""

from __future__ import annotations

import logging

import pandas as pd

from candlecast.marketdata import MarketDataProvider
from candlecast.ohlcv import CandleStore, clean_candles, drop_unclosed
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)


class RealisedCandles:
    def __init__(
        self, store: CandleStore, provider: MarketDataProvider | None, now: pd.Timestamp
    ) -> None:
        self.store = store
        self.provider = provider
        self.now = now
        self._frames: dict[tuple[str, str], tuple[pd.DataFrame, str, pd.Timestamp]] = {}

    def frame(
        self, ticker: str, timeframe: Timeframe, since: pd.Timestamp
    ) -> tuple[pd.DataFrame, str]:
        """(closed candles of the series, 'store' | 'provider'); empty when neither has any.
        A stored series is never topped up from the provider: its late candles are scored when
        `ohlcv_update` writes them (and its Asset runs the scoring again)."""
        key = (ticker, timeframe.code)
        known = self._frames.get(key)
        if known is None or (known[1] == "provider" and since < known[2]):
            self._frames[key] = (*self._load(ticker, timeframe, since), since)
        frame, source, _ = self._frames[key]
        return frame, source

    def _load(
        self, ticker: str, timeframe: Timeframe, since: pd.Timestamp
    ) -> tuple[pd.DataFrame, str]:
        stored = self.store.read(ticker, timeframe)
        if not stored.empty:
            stored["timestamp"] = pd.to_datetime(stored["timestamp"], utc=True)
            return drop_unclosed(stored, timeframe, self.now).reset_index(drop=True), "store"
        if self.provider is None:
            return stored, "store"
        try:
            fetched = self.provider.fetch_candles(
                ticker, timeframe, timeframe.floor(since), self.now
            )
        except Exception as error:  # one coin's provider trouble must not stop the others
            log.warning("no realised candles for %s %s: %s", ticker, timeframe.code, error)
            return stored.iloc[0:0], "provider"
        cleaned, _ = clean_candles(fetched, timeframe, self.now, f"{ticker} {timeframe.code}")
        cleaned["timestamp"] = pd.to_datetime(cleaned["timestamp"], utc=True)
        return cleaned.reset_index(drop=True), "provider"
