"""Live accuracy: stored forecast steps whose target candle has closed, against actual closes
(the Parquet store, topped up by cached candles)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

from candlecast.api import AccuracyReport, AccuracyRow
from candlecast.ohlcv import open_store
from candlecast.ops import GuardedRedis
from candlecast.serving.codec import candles_key, frame_from_bytes
from candlecast.timeframes import TIMEFRAMES

MAX_PREDICTIONS = 5000  # the newest ones; bounds the cost of one report
NO_OUTCOMES = (
    "no stored forecast has a target candle that has closed yet; accuracy appears once the "
    "forecast candles close"
)

CloseLookup = Callable[[str, str], pd.Series]  # (ticker, timeframe) → close by open time


def _steps(conn: psycopg.Connection, now: pd.Timestamp, timeframe: str | None) -> pd.DataFrame:
    rows = conn.execute(
        """
        WITH recent AS (
            SELECT p.id, p.timeframe, p.last_close, s.ticker, m.name || ':' || m.version AS model
            FROM predictions p JOIN symbols s ON s.id = p.symbol_id
                 JOIN models m ON m.id = p.model_id
            WHERE p.last_candle_at < %(now)s AND (%(tf)s::text IS NULL OR p.timeframe = %(tf)s)
            ORDER BY p.generated_at DESC LIMIT %(limit)s
        )
        SELECT r.id, r.timeframe, r.model, r.ticker, r.last_close, st.timestamp, st.close,
               st.close_low_80, st.close_high_80
        FROM recent r JOIN prediction_steps st ON st.prediction_id = r.id
        WHERE st.timestamp < %(now)s
        """,
        {"now": now, "tf": timeframe, "limit": MAX_PREDICTIONS},
    ).fetchall()
    return pd.DataFrame(rows)


def _figures(group: pd.DataFrame) -> dict:
    # The forecast's own convention: a close at or above the last close is "up".
    predicted_move = np.where(group["close"] >= group["last_close"], 1.0, -1.0)
    actual_move = np.sign(np.log(group["actual"] / group["last_close"]))
    moved = actual_move != 0
    error = np.abs(np.log(group["close"] / group["actual"])).mean()
    random_walk = np.abs(np.log(group["last_close"] / group["actual"])).mean()
    inside = (group["close_low_80"] <= group["actual"]) & (
        group["actual"] <= group["close_high_80"]
    )
    return {
        "predictions": int(group["id"].nunique()),
        "n": len(group),
        "direction_accuracy": float((predicted_move == actual_move)[moved].mean())
        if moved.any()
        else None,
        "mae_ratio_to_random_walk": float(error / random_walk) if random_walk > 0 else None,
        "interval_80_coverage": float(inside.mean()),
    }


def accuracy_report(
    conn: psycopg.Connection,
    actual_closes: CloseLookup,
    now: pd.Timestamp,
    timeframe: str | None = None,
) -> AccuracyReport:
    steps = _steps(conn, now, timeframe)
    outcomes = []
    if not steps.empty:
        steps["timestamp"] = pd.to_datetime(steps["timestamp"], utc=True)
        for (ticker, code), series in steps.groupby(["ticker", "timeframe"]):
            tf = TIMEFRAMES[code]
            series = series[tf.close_times(series["timestamp"]) <= now]
            closes = actual_closes(ticker, code)
            actual = series["timestamp"].map(closes)
            outcomes.append(series.assign(actual=actual.astype("float64")).dropna(subset="actual"))
    joined = pd.concat(outcomes) if outcomes else pd.DataFrame()
    if joined.empty:
        return AccuracyReport(as_of=now, rows=[], note=NO_OUTCOMES)
    rows = [
        AccuracyRow(timeframe=code, model=model, **_figures(group))
        for (code, model), group in joined.groupby(["timeframe", "model"])
    ]
    return AccuracyReport(as_of=now, rows=rows)


class ActualCloses:
    def __init__(self, store_location: Path | str, cache: GuardedRedis) -> None:
        self.store = open_store(store_location)
        self.cache = cache

    def __call__(self, ticker: str, timeframe_code: str) -> pd.Series:
        frames = [self.store.read(ticker, TIMEFRAMES[timeframe_code])]
        payload = self.cache.call("get", candles_key(ticker, timeframe_code))
        if payload is not None:
            frames.append(frame_from_bytes(payload)[0])
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.Series(dtype="float64")
        merged = pd.concat(frames).drop_duplicates("timestamp", keep="last")
        stamps = pd.to_datetime(merged["timestamp"], utc=True).astype("datetime64[ns, UTC]")
        return pd.Series(merged["close"].to_numpy(), index=stamps)
