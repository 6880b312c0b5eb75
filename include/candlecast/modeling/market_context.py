"""Market context: the series every coin is measured against (BTC and ETH), as the features read
them. Training takes them from the store and serving from the fresh-candle cache; both hand the
same `MarketContext` to `compute_features`, so the columns are the same function of the candles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from candlecast.marketdata import split_pair

BENCHMARK_BASES = ("BTC", "ETH")
USD_QUOTES = ("USD", "USDT", "USDC")


def choose_benchmarks(tickers: Iterable[str]) -> dict[str, str]:
    """Base → ticker of each benchmark among `tickers` (ranked, most traded first): the first
    USD-quoted pair of that base. A base the universe lacks is left out."""
    chosen: dict[str, str] = {}
    for ticker in tickers:
        try:
            base, quote = split_pair(ticker)
        except ValueError:
            continue
        if base in BENCHMARK_BASES and quote in USD_QUOTES and base not in chosen:
            chosen[base] = ticker
    return {base: chosen[base] for base in BENCHMARK_BASES if base in chosen}


@dataclass(frozen=True, eq=False)
class BenchmarkSeries:
    """One benchmark's candle open times (datetime64[ns]) and log closes, oldest first.
    `derived`: arrays computed from the series alone (its returns and volatilities), filled by
    the features on first use, so every coin measured against it reuses them."""

    stamps: np.ndarray
    log_close: np.ndarray
    derived: dict[str, object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_candles(cls, candles: pd.DataFrame) -> BenchmarkSeries:
        return cls(
            candles["timestamp"].to_numpy("datetime64[ns]"),
            np.log(candles["close"].to_numpy(dtype="float64")),
        )

    @property
    def last_open(self) -> np.datetime64 | None:
        return self.stamps[-1] if len(self.stamps) else None


@dataclass(frozen=True)
class MarketContext:
    """The benchmarks a model was trained with, keyed by base ('BTC', 'ETH'), in that order."""

    series: Mapping[str, BenchmarkSeries]

    @classmethod
    def from_candles(cls, frames: Mapping[str, pd.DataFrame]) -> MarketContext:
        return cls({base: BenchmarkSeries.from_candles(frames[base]) for base in frames})

    @property
    def bases(self) -> tuple[str, ...]:
        return tuple(self.series)

    def fingerprint(self) -> tuple:
        """What a cached feature row depends on: each benchmark's newest candle and length."""
        return tuple((b, s.last_open, len(s.stamps)) for b, s in self.series.items())
