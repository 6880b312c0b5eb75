"""Outcomes: every stored forecast step whose target candle has closed, scored against the
realised close into `prediction_outcomes` (one row per prediction and step, by UPSERT: a re-run
writes nothing, a revised candle rewrites only what changed)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg

from candlecast.monitoring.realised_candles import RealisedCandles
from candlecast.timeframes import TIMEFRAMES

PENDING_STEPS = """
    SELECT st.prediction_id, st.step, st.timestamp AS target_at, st.close AS predicted_close,
           st.close_low_80, st.close_high_80, st.direction, st.confidence,
           p.model_id, p.symbol_id, p.timeframe, p.last_close, s.ticker
    FROM predictions p
    JOIN prediction_steps st ON st.prediction_id = p.id
    JOIN symbols s ON s.id = p.symbol_id
    WHERE p.outcomes_pending AND p.last_candle_at < %(now)s AND st.timestamp < %(now)s
      AND NOT EXISTS (SELECT 1 FROM prediction_outcomes o
                      WHERE o.prediction_id = st.prediction_id AND o.step = st.step)
"""

UPSERT = """
    INSERT INTO prediction_outcomes AS o (
        prediction_id, step, model_id, symbol_id, timeframe, target_at, closed_at, last_close,
        predicted_close, actual_close, direction, confidence, hit, log_error, random_walk_error,
        inside_80, source)
    SELECT r.* FROM jsonb_to_recordset(%s::jsonb) AS r(
        prediction_id uuid, step smallint, model_id bigint, symbol_id bigint, timeframe text,
        target_at timestamptz, closed_at timestamptz, last_close float8, predicted_close float8,
        actual_close float8, direction text, confidence float8, hit boolean, log_error float8,
        random_walk_error float8, inside_80 boolean, source text)
    ON CONFLICT (prediction_id, step) DO UPDATE SET
        actual_close = EXCLUDED.actual_close, hit = EXCLUDED.hit,
        log_error = EXCLUDED.log_error, random_walk_error = EXCLUDED.random_walk_error,
        inside_80 = EXCLUDED.inside_80, source = EXCLUDED.source, scored_at = now()
    WHERE o.actual_close IS DISTINCT FROM EXCLUDED.actual_close
    RETURNING o.model_id, o.closed_at
"""


@dataclass
class ScoringRun:
    """What one scoring pass did: steps due, scored (written), still waiting for a candle, and
    the (model id, UTC day) cells whose rolling figures are now out of date."""

    due: int = 0
    scored: int = 0
    waiting: int = 0
    touched: set[tuple[int, pd.Timestamp]] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "due": self.due,
            "scored": self.scored,
            "waiting": self.waiting,
            "days": sorted({str(day.date()) for _, day in self.touched}),
        }


def pending_steps(conn: psycopg.Connection, now: pd.Timestamp) -> pd.DataFrame:
    """Unscored steps whose target candle has closed by `now`, with their close time."""
    frame = pd.DataFrame(conn.execute(PENDING_STEPS, {"now": now}).fetchall())
    if frame.empty:
        return frame
    frame["target_at"] = pd.to_datetime(frame["target_at"], utc=True)
    parts = []
    for code, group in frame.groupby("timeframe"):
        closed_at = TIMEFRAMES[code].close_times(group["target_at"])
        parts.append(group.assign(closed_at=closed_at)[closed_at <= now])
    return pd.concat(parts, ignore_index=True)


def score(steps: pd.DataFrame, candles: RealisedCandles) -> pd.DataFrame:
    """The outcome of each step whose target candle is known; the rest are left out."""
    scored = []
    for (ticker, code), group in steps.groupby(["ticker", "timeframe"]):
        frame, source = candles.frame(ticker, TIMEFRAMES[code], group["target_at"].min())
        closes = pd.Series(frame["close"].to_numpy(float), index=frame["timestamp"])
        actual = group["target_at"].map(closes)
        scored.append(
            group.assign(actual_close=actual, source=source).dropna(subset="actual_close")
        )
    if not scored:
        return pd.DataFrame()
    out = pd.concat(scored, ignore_index=True)
    actual, last = out["actual_close"], out["last_close"]
    # No hit or miss where the price did not move, or where the step names no side: a step
    # without skill is served at confidence 0.5 ("up" only by convention), so it is no call.
    no_call = (actual == last) | (out["confidence"] <= 0.5)
    out["hit"] = np.where(no_call, None, (out["direction"] == "up") == (actual > last))
    out["log_error"] = np.log(out["predicted_close"] / actual)
    out["random_walk_error"] = np.log(last / actual)
    out["inside_80"] = (out["close_low_80"] <= actual) & (actual <= out["close_high_80"])
    return out


OUTCOME_COLUMNS = (
    "prediction_id", "step", "model_id", "symbol_id", "timeframe", "target_at", "closed_at",
    "last_close", "predicted_close", "actual_close", "direction", "confidence", "hit",
    "log_error", "random_walk_error", "inside_80", "source",
)  # fmt: skip


def write_outcomes(
    conn: psycopg.Connection, outcomes: pd.DataFrame
) -> list[tuple[int, pd.Timestamp]]:
    """UPSERT; returns (model id, close day) of every row written (none on a re-run)."""
    if outcomes.empty:
        return []
    records = [
        {k: _json_value(v) for k, v in row.items()}
        for row in outcomes.loc[:, list(OUTCOME_COLUMNS)].to_dict("records")
    ]
    rows = conn.execute(UPSERT, (json.dumps(records),)).fetchall()
    return [
        (r["model_id"], pd.Timestamp(r["closed_at"]).tz_convert("UTC").normalize()) for r in rows
    ]


def _json_value(value):
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, int | float | bool | type(None)) else str(value)


SETTLED = """
    UPDATE predictions p SET outcomes_pending = false
    WHERE p.id = ANY(%s::uuid[])
      AND (SELECT count(*) FROM prediction_outcomes o WHERE o.prediction_id = p.id) = p.steps
"""


def score_outcomes(conn: psycopg.Connection, candles: RealisedCandles) -> ScoringRun:
    """One scoring pass as of `candles.now`, in the caller's transaction."""
    run = ScoringRun()
    steps = pending_steps(conn, candles.now)
    run.due = len(steps)
    if steps.empty:
        return run
    outcomes = score(steps, candles)
    written = write_outcomes(conn, outcomes)
    run.scored = len(written)
    run.waiting = run.due - len(outcomes)
    run.touched = set(written)
    if not outcomes.empty:
        conn.execute(SETTLED, ([str(i) for i in outcomes["prediction_id"].unique()],))
    return run
