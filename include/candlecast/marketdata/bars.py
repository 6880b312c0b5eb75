"""Provider bars as candle frames: aggregates to candles, daily bars to whole weeks and months
(the provider's own week/month alignment is not documented, and a period the history lacks a
day of is not a candle), and a grouped-daily answer to USD volumes."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import pandas as pd

from candlecast.marketdata.base import CANDLE_COLUMNS, empty_candles
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)

USD_QUOTES = {"USD", "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "DAI", "USDP"}
BAR_COLUMNS = {
    "t": "timestamp",
    "o": "open",
    "h": "high",
    "l": "low",
    "c": "close",
    "v": "volume",
    "vw": "vwap",
    "n": "trades",
}


def bars_to_candles(bars: list[dict]) -> pd.DataFrame:
    if not bars:
        return empty_candles()
    frame = pd.DataFrame(bars).rename(columns=BAR_COLUMNS)
    for column in CANDLE_COLUMNS:
        if column not in frame:
            frame[column] = math.nan
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True).astype(
        "datetime64[ms, UTC]"
    )
    for column in CANDLE_COLUMNS[1:]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame.loc[:, list(CANDLE_COLUMNS)]


def resample_daily(daily: pd.DataFrame, timeframe: Timeframe) -> pd.DataFrame:
    """Weekly (Monday) or monthly (1st) candles from daily ones, all times UTC.

    A period is built only from every one of its days: a week with a day missing is not a week.
    The newest period, still open or not, and a first period the daily history enters mid-way
    are dropped silently; any other incomplete period is dropped and named in
    `attrs["incomplete_periods"]` (and the log): the store shows it as a gap."""
    if daily.empty:
        return empty_candles()
    rule = "W-MON" if timeframe.code == "1w" else "MS"
    indexed = daily.sort_values("timestamp").set_index("timestamp")
    indexed["notional"] = indexed["vwap"] * indexed["volume"]
    grouped = indexed.resample(rule, label="left", closed="left")
    out = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
            "notional": grouped["notional"].sum(min_count=1),
            "trades": grouped["trades"].sum(min_count=1),
            "days": grouped["open"].count(),
        }
    ).dropna(subset=["open"])
    out["vwap"] = out["notional"] / out["volume"].where(out["volume"] > 0)
    out = out.reset_index()
    out["timestamp"] = out["timestamp"].astype("datetime64[ms, UTC]")
    if len(out) and indexed.index[0] != out["timestamp"].iloc[0]:
        out = out.iloc[1:]  # history starts mid-period: that first period is not a full candle
    length = timeframe.close_times(out["timestamp"]) - out["timestamp"]
    whole = out["days"].to_numpy() == length.dt.days.to_numpy()
    newest = (out["timestamp"] == out["timestamp"].max()).to_numpy()  # may simply be open
    incomplete = out.loc[~whole & ~newest, "timestamp"]
    if len(incomplete):
        log.warning(
            "%d %s period(s) lack a day and are not stored as candles: %s",
            len(incomplete),
            timeframe.code,
            ", ".join(t.date().isoformat() for t in incomplete),
        )
    result = out.loc[whole, list(CANDLE_COLUMNS)].reset_index(drop=True)
    result.attrs["incomplete_periods"] = [t.date().isoformat() for t in incomplete]
    return result


def usd_volumes(rows: Iterable[dict], quotes: dict[str, str]) -> dict[str, float]:
    """USD volume per ticker from grouped daily bars: v × vw, with the typical price
    (h+l+c)/3 standing in where vw is absent; pairs quoted in a coin are converted through
    that coin's USD pair of the same day, when there is one."""
    notional: dict[str, float] = {}
    for row in rows:
        price = row.get("vw")
        if price is None and all(k in row for k in ("h", "l", "c")):
            price = (row["h"] + row["l"] + row["c"]) / 3
        if price is not None and row.get("v") is not None:
            notional[row["T"]] = float(row["v"]) * float(price)
    closes = {row["T"]: row.get("c") for row in rows}
    volumes = {}
    for ticker, value in notional.items():
        quote = quotes.get(ticker, "")
        if quote in USD_QUOTES:
            volumes[ticker] = value
        elif closes.get(f"X:{quote}USD"):
            volumes[ticker] = value * float(closes[f"X:{quote}USD"])
    return volumes
