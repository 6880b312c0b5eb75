"""The offline provider: real Binance candles bundled with the package (MIT, see its LICENSE)."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd

from candlecast.marketdata.base import (
    CANDLE_COLUMNS,
    FetchRequest,
    TickerInfo,
    fetch_sequentially,
    split_pair,
)
from candlecast.timeframes import TIMEFRAMES, Timeframe

COIN_NAMES = {
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "BNB": "BNB",
    "SOL": "Solana",
    "XRP": "XRP",
    "USDT": "Tether",
}


class SampleProvider:
    name = "sample"

    def __init__(self, data_dir: Path, now: pd.Timestamp | None = None) -> None:
        self.data_dir = Path(data_dir)
        if not (self.data_dir / "1d").is_dir():
            raise FileNotFoundError(f"sample data not found under {self.data_dir}")
        self._now = now

    def _path(self, timeframe: Timeframe, pair: str) -> Path:
        return self.data_dir / timeframe.code / f"{pair}.parquet"

    def pairs(self) -> list[str]:
        return sorted(p.stem for p in (self.data_dir / "1d").glob("*.parquet"))

    def now(self) -> pd.Timestamp:
        if self._now is None:
            hourly = TIMEFRAMES["1h"]
            last = max(_read(self._path(hourly, p))["timestamp"].max() for p in self.pairs())
            self._now = hourly.next_open(last)
        return self._now

    def list_tickers(self) -> list[TickerInfo]:
        tickers = []
        for pair in self.pairs():
            base, quote = split_pair(pair)
            name = f"{COIN_NAMES.get(base, base)} - {COIN_NAMES.get(quote, quote)}"
            tickers.append(TickerInfo(f"X:{pair}", name, base, quote))
        return tickers

    def daily_usd_volumes(self, day: date) -> dict[str, float]:
        volumes = {}
        start = pd.Timestamp(day, tz="UTC")
        for pair in self.pairs():
            frame = _read(self._path(TIMEFRAMES["1d"], pair))
            row = frame[frame["timestamp"] == start]
            if not row.empty:
                volumes[f"X:{pair}"] = float((row["volume"] * row["vwap"]).iloc[0])
        return volumes

    def fetch_candles(
        self, ticker: str, timeframe: Timeframe, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        pair = ticker.removeprefix("X:")
        path = self._path(timeframe, pair)
        if not path.parent.is_dir():  # a data set without this timeframe (the universe: no 1w/1M)
            return pd.DataFrame({column: [] for column in CANDLE_COLUMNS}).astype(
                _read(self._path(TIMEFRAMES["1d"], pair))[list(CANDLE_COLUMNS)].dtypes
            )
        if not path.exists():
            raise LookupError(f"the sample provider has no {ticker} (known: {self.pairs()})")
        frame = _read(path)
        end = min(end, self.now())
        mask = (frame["timestamp"] >= start) & (frame["timestamp"] < end)
        return frame.loc[mask, list(CANDLE_COLUMNS)].reset_index(drop=True)

    def fetch_many(self, requests: list[FetchRequest]) -> list[pd.DataFrame | Exception]:
        return fetch_sequentially(self, requests)


@cache
def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ms, UTC]")
    # The sample has no vwap; its README names the typical price as the stand-in.
    frame["vwap"] = (frame["high"] + frame["low"] + frame["close"]) / 3.0
    frame["trades"] = float("nan")
    for column in CANDLE_COLUMNS[1:]:
        frame[column] = frame[column].astype("float64")
    return frame
