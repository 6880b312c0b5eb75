"""Data health of the active universe: stale series, gaps (with their length), spikes (recent
candles the move check would flag or hold, with why), coverage, per timeframe."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd
import psycopg

from candlecast.ohlcv import moves
from candlecast.ohlcv.parquet_store import CandleStore, describe_series
from candlecast.timeframes import TIMEFRAMES, Timeframe

RECENT_CANDLES = 48
GAPS_KEPT = 10  # the most recent gaps of each series, with their length


@dataclass
class HealthReport:
    timeframe: str
    universe: int
    covered: int
    stale: list[str] = field(default_factory=list)
    gappy: list[str] = field(default_factory=list)
    spikes: list[str] = field(default_factory=list)
    gaps: dict[str, list[dict]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

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
        if not store.exists(ticker, timeframe):
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
            missing = moves.missing_before(frame["timestamp"], timeframe)
            report.gaps[ticker] = [
                {"before": frame["timestamp"].iloc[i].isoformat(), "missing": int(missing[i])}
                for i in missing.nonzero()[0][-GAPS_KEPT:]
            ]
        recent = frame.iloc[-(RECENT_CANDLES + moves.MAD_WINDOW + 1) :]
        checked = max(len(recent) - RECENT_CANDLES, 0)
        hourly = store.read(ticker, TIMEFRAMES["1h"]) if timeframe.code != "1h" else None
        verdicts = moves.assess(recent, timeframe, checked, hourly, last_is_newest=False)
        odd = verdicts[verdicts["verdict"] != "ok"]
        if len(odd):
            report.spikes.append(ticker)
            report.notes[ticker] = list(odd["note"])
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
                                     spikes, alert, gaps, notes)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (checked_at, timeframe) DO UPDATE SET
                universe = EXCLUDED.universe, covered = EXCLUDED.covered,
                stale = EXCLUDED.stale, gappy = EXCLUDED.gappy, spikes = EXCLUDED.spikes,
                alert = EXCLUDED.alert, gaps = EXCLUDED.gaps, notes = EXCLUDED.notes
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
                    json.dumps(r.gaps),
                    json.dumps(r.notes),
                )
                for r in reports
            ],
        )
