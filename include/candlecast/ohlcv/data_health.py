"""Data health of the active universe: stale series, gaps, spikes, coverage, per timeframe."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg

from candlecast.ohlcv.store import CandleStore, describe_series
from candlecast.timeframes import TIMEFRAMES, Timeframe

SPIKE_LOG_MOVE = float(np.log(1.5))  # a move of more than 50 % in one candle
RECENT_CANDLES = 48


@dataclass
class HealthReport:
    timeframe: str
    universe: int
    covered: int
    stale: list[str] = field(default_factory=list)
    gappy: list[str] = field(default_factory=list)
    spikes: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return self.covered / self.universe if self.universe else 1.0

    def crosses(self, max_stale_fraction: float, min_coverage: float) -> bool:
        stale_fraction = len(self.stale) / self.universe if self.universe else 0.0
        return stale_fraction > max_stale_fraction or self.coverage < min_coverage

    def summary(self) -> str:
        return (
            f"{self.timeframe}: coverage {self.covered}/{self.universe}, "
            f"{len(self.stale)} stale, {len(self.gappy)} with gaps, {len(self.spikes)} spikes"
        )


def check_timeframe(
    store: CandleStore, tickers: list[str], timeframe: Timeframe, now: pd.Timestamp
) -> HealthReport:
    """Stale: the newest candle is more than two periods older than the last closed one."""
    last_closed = timeframe.next_open(timeframe.floor(now), -1)
    stale_before = timeframe.next_open(last_closed, -2)
    report = HealthReport(timeframe.code, len(tickers), 0)
    for ticker in tickers:
        if not store.path(ticker, timeframe).exists():
            continue
        frame = store.read(ticker, timeframe)  # one read: coverage, staleness, gaps, spikes
        info = describe_series(frame["timestamp"], timeframe)
        if info["rows"] == 0:
            continue
        report.covered += 1
        if info["last"] < stale_before:
            report.stale.append(ticker)
        if info["gaps"]:
            report.gappy.append(ticker)
        recent = frame["close"].iloc[-RECENT_CANDLES:]
        if (np.abs(np.log(recent / recent.shift(1))) > SPIKE_LOG_MOVE).any():
            report.spikes.append(ticker)
    return report


def check_all(store: CandleStore, tickers: list[str], now: pd.Timestamp) -> list[HealthReport]:
    return [check_timeframe(store, tickers, tf, now) for tf in TIMEFRAMES.values()]


def record(
    conn: psycopg.Connection,
    checked_at: pd.Timestamp,
    reports: list[HealthReport],
    alerts: set[str],
) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO data_health (checked_at, timeframe, universe, covered, stale, gappy,
                                     spikes, alert)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (checked_at, timeframe) DO UPDATE SET
                universe = EXCLUDED.universe, covered = EXCLUDED.covered,
                stale = EXCLUDED.stale, gappy = EXCLUDED.gappy, spikes = EXCLUDED.spikes,
                alert = EXCLUDED.alert
            """,
            [
                (
                    checked_at,
                    r.timeframe,
                    r.universe,
                    r.covered,
                    r.stale,
                    r.gappy,
                    r.spikes,
                    r.timeframe in alerts,
                )
                for r in reports
            ],
        )
