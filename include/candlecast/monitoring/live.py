"""One monitoring pass, as the `score_outcomes` DAG runs it: score what closed (forecast steps
and stored rankings), refresh the rolling figures it touched, alert drift, run the paper ledger."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import psycopg

from candlecast.monitoring.drift import LATEST_ROWS, DriftRules, check_drift
from candlecast.monitoring.outcomes import score_outcomes
from candlecast.monitoring.paper_ledger import run_ledger
from candlecast.monitoring.ranking_outcomes import score_rankings
from candlecast.monitoring.realised_candles import RealisedCandles
from candlecast.monitoring.rolling import WINDOWS, refresh_rolling

Alert = Callable[[str, list[str]], None]


def live_accuracy(conn: psycopg.Connection, candles: RealisedCandles, rules: DriftRules) -> dict:
    """model id → today's live figures over the drift window, where they rest on enough outcomes."""
    rows = conn.execute(
        LATEST_ROWS, {"day": candles.now.normalize().date(), "window": rules.window_days}
    ).fetchall()
    return {
        r["model_id"]: {
            "model": r["model"],
            "n": r["n"],
            "calls": r["figures"].get("calls"),
            "direction_accuracy": r["figures"].get("direction_accuracy"),
        }
        for r in rows
        if r["n"] >= rules.min_outcomes
    }


MONITOR_LOCK_KEY = 0x6F7574636F6D  # pg advisory lock id: "outcom"


def monitor(
    conn: psycopg.Connection, candles: RealisedCandles, rules: DriftRules, alert: Alert
) -> dict:
    """One pass; a second pass (the DAG and the CLI at once) waits for the first to finish, so
    the ledger's decisions are taken once, in time order."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MONITOR_LOCK_KEY,))
    try:
        return _monitor(conn, candles, rules, alert)
    finally:
        conn.rollback()  # a failed pass leaves nothing half-written
        conn.execute("SELECT pg_advisory_unlock(%s)", (MONITOR_LOCK_KEY,))
        conn.commit()


def _monitor(
    conn: psycopg.Connection, candles: RealisedCandles, rules: DriftRules, alert: Alert
) -> dict:
    scoring = score_outcomes(conn, candles)
    ranked = score_rankings(conn, candles)
    today = candles.now.tz_convert("UTC").normalize()
    recent = conn.execute(
        "SELECT DISTINCT model_id FROM prediction_outcomes WHERE closed_at > %s AND closed_at <= %s",
        (today - pd.Timedelta(days=max(WINDOWS)), candles.now),
    ).fetchall()
    # Today's windows move on even without a new outcome (a quiet day still ends one).
    due = scoring.touched | {(r["model_id"], today) for r in recent}
    rolled = refresh_rolling(conn, due, candles.now)
    conn.commit()  # outcomes and figures stand even if an alert below cannot be delivered
    drifting = check_drift(conn, candles.now, rules, alert)
    ledger = run_ledger(conn, candles, live_accuracy(conn, candles, rules), alert)
    conn.commit()
    return scoring.as_dict() | {
        "rolling_rows": rolled,
        "drift": drifting,
        "paper": ledger,
        "rankings": ranked,
    }
