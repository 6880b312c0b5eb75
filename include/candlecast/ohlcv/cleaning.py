"""One definition of a clean candle series, shared by ingestion and serving."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from candlecast.marketdata import CANDLE_COLUMNS
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)


@dataclass
class CleaningReport:
    rows_in: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    def count(self, reason: str, n: int) -> None:
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)


def drop_unclosed(frame: pd.DataFrame, timeframe: Timeframe, now: pd.Timestamp) -> pd.DataFrame:
    """Drop candles that have not closed by `now` (the still-open candle and anything later)."""
    return frame[timeframe.close_times(frame["timestamp"]) <= now]


def clean_candles(
    frame: pd.DataFrame, timeframe: Timeframe, now: pd.Timestamp, label: str = ""
) -> tuple[pd.DataFrame, CleaningReport]:
    """Sorted, unique, aligned, closed candles with positive, consistent OHLC.

    Invalid rows are dropped, never repaired; every drop is counted and logged.
    """
    report = CleaningReport(rows_in=len(frame))
    frame = frame.loc[:, list(CANDLE_COLUMNS)].copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ms, UTC]")

    def keep(mask: pd.Series, reason: str) -> None:
        nonlocal frame
        report.count(reason, (~mask).sum())
        frame = frame[mask]

    keep(frame[["timestamp", "open", "high", "low", "close", "volume"]].notna().all(axis=1), "nan")
    prices = frame[["open", "high", "low", "close"]]
    keep((prices > 0).all(axis=1), "non_positive_price")
    keep(frame["volume"] >= 0, "negative_volume")
    body_high = frame[["open", "close"]].max(axis=1)
    body_low = frame[["open", "close"]].min(axis=1)
    keep((frame["high"] >= body_high) & (frame["low"] <= body_low), "inconsistent_ohlc")
    keep(timeframe.aligned(frame["timestamp"]), "misaligned_timestamp")
    closed = len(frame)
    frame = drop_unclosed(frame, timeframe, now)
    report.count("not_closed", closed - len(frame))
    before = len(frame)
    frame = frame.sort_values("timestamp", kind="stable").drop_duplicates("timestamp", keep="last")
    report.count("duplicate_timestamp", before - len(frame))
    if report.dropped:
        log.info(
            "cleaning %s %s dropped %s of %d rows",
            label,
            timeframe.code,
            report.dropped,
            report.rows_in,
        )
    return frame.reset_index(drop=True), report
