"""Forward paper trading on the forecasts actually served (never a challenger's shadows), per
model version, under the paper-trading rules (the training backtest's `TradingRules` and
`simulate_position`, not a copy): a fresh forecast whose 24th step says up with confidence
>= 0.60 opens a long at the close it was made on, $100, at most 5 open and 1 per coin; it closes
at -5 %, +10 % or after 24 candles, 0.26 % fee a side. Emergency stops (live accuracy < 45 %,
5 losses in a row, a day's loss > 10 % of the capital) pause the version's ledger and alert
once."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import psycopg

from candlecast.modeling.paper_trading import Series, TradingRules, simulate_position
from candlecast.monitoring.drift import counted
from candlecast.monitoring.realised_candles import RealisedCandles
from candlecast.timeframes import TIMEFRAMES

SIGNAL_STEP = 24
EMERGENCY_ACCURACY = 0.45
EMERGENCY_LOSSES_IN_A_ROW = 5
EMERGENCY_DAILY_LOSS = 0.10  # of the capital

CANDIDATES = """
    SELECT p.id AS prediction_id, p.model_id, p.symbol_id, p.timeframe, p.last_candle_at,
           p.last_close, p.generated_at, st.confidence, s.ticker
    FROM predictions p
    JOIN prediction_steps st ON st.prediction_id = p.id AND st.step = %(step)s
    JOIN symbols s ON s.id = p.symbol_id
    WHERE NOT p.stale AND NOT p.shadow AND st.direction = 'up' AND st.confidence >= %(threshold)s
      AND p.last_candle_at < %(now)s
      AND NOT EXISTS (SELECT 1 FROM paper_signals g WHERE g.prediction_id = p.id)
    ORDER BY p.last_candle_at, st.confidence DESC, s.ticker
"""
HELD_AT = """
    SELECT symbol_id FROM paper_positions
    WHERE model_id = %(model)s AND entry_candle_at <= %(at)s
      AND (status = 'open' OR exit_candle_at > %(at)s)
"""
OPEN_POSITIONS = """
    SELECT q.id, q.timeframe, q.entry_candle_at, q.entry_price, s.ticker
    FROM paper_positions q JOIN symbols s ON s.id = q.symbol_id WHERE q.status = 'open'
    ORDER BY q.entry_candle_at, q.id
"""


def open_positions(
    conn: psycopg.Connection, candles: RealisedCandles, rules: TradingRules, pauses: Pauses
) -> dict:
    """Each new signal in signal-candle order: opened (and settled at once on the candles
    already closed, so later signals see its slot free again), or why not (recorded, never
    retried)."""
    now = candles.now
    decisions: dict[str, int] = {}
    candidates = conn.execute(
        CANDIDATES, {"step": SIGNAL_STEP, "threshold": rules.threshold, "now": now}
    ).fetchall()
    for signal in candidates:
        held = {
            r["symbol_id"]
            for r in conn.execute(
                HELD_AT, {"model": signal["model_id"], "at": signal["last_candle_at"]}
            ).fetchall()
        }
        signal_at = pd.Timestamp(signal["last_candle_at"]).tz_convert("UTC")
        entry_at = TIMEFRAMES[signal["timeframe"]].next_open(signal_at)  # its close
        if pauses.check(signal["model_id"], entry_at, None, rules):
            decision = "paused"
        elif signal["symbol_id"] in held:
            decision = "coin_held"
        elif len(held) >= rules.max_positions:
            decision = "slots_full"
        else:
            decision = "opened"
            position = conn.execute(
                "INSERT INTO paper_positions (model_id, prediction_id, symbol_id, timeframe, "
                "confidence, entry_candle_at, opened_at, entry_price, stake) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    signal["model_id"], signal["prediction_id"], signal["symbol_id"],
                    signal["timeframe"], signal["confidence"], signal["last_candle_at"],
                    signal["generated_at"], signal["last_close"], rules.stake,
                ),
            ).fetchone()  # fmt: skip
            settle(
                conn,
                candles,
                rules,
                {
                    **signal,
                    "id": position["id"],
                    "entry_candle_at": signal["last_candle_at"],
                    "entry_price": signal["last_close"],
                },
            )
        conn.execute(
            "INSERT INTO paper_signals (prediction_id, model_id, decision) VALUES (%s, %s, %s)",
            (signal["prediction_id"], signal["model_id"], decision),
        )
        decisions[decision] = decisions.get(decision, 0) + 1
    return decisions


def _series_after(frame: pd.DataFrame, entry_at: pd.Timestamp, entry_price: float) -> Series:
    """The entry (at the price the forecast was made on) followed by every later closed candle."""
    later = frame[frame["timestamp"] > entry_at]
    time = np.r_[
        pd.Timestamp(entry_at).value, pd.DatetimeIndex(later["timestamp"]).as_unit("ns").asi8
    ]
    column = {
        c: np.r_[entry_price, later[c].to_numpy(float)] for c in ("open", "high", "low", "close")
    }
    return Series(time, column["open"], column["high"], column["low"], column["close"])


def close_positions(
    conn: psycopg.Connection, candles: RealisedCandles, rules: TradingRules
) -> dict:
    """Every open position run through the candles that have closed since its entry."""
    reasons: dict[str, int] = {}
    for position in conn.execute(OPEN_POSITIONS).fetchall():
        reason = settle(conn, candles, rules, position)
        if reason is not None:
            reasons[reason] = reasons.get(reason, 0) + 1
    return reasons


def settle(
    conn: psycopg.Connection, candles: RealisedCandles, rules: TradingRules, position
) -> str | None:
    """Close an open position if its candles decide it; returns the exit reason, or None."""
    timeframe = TIMEFRAMES[position["timeframe"]]
    entry_at = pd.Timestamp(position["entry_candle_at"]).tz_convert("UTC")
    frame, _ = candles.frame(position["ticker"], timeframe, entry_at)
    series = _series_after(frame, entry_at, position["entry_price"])
    trade = simulate_position(position["ticker"], series, 0, rules)
    _, _, _, exit_ns, exit_price, reason, pnl, fees, held = trade
    if reason == "end_of_data":
        return None  # not decided yet
    exit_at = pd.Timestamp(exit_ns, tz="UTC")
    conn.execute(
        "UPDATE paper_positions SET status = 'closed', exit_candle_at = %s, closed_at = %s, "
        "exit_price = %s, exit_reason = %s, fees = %s, pnl = %s, candles_held = %s "
        "WHERE id = %s AND status = 'open'",
        (
            exit_at,
            timeframe.next_open(exit_at),
            exit_price,
            reason,
            fees,
            pnl,
            held,
            position["id"],
        ),
    )
    return reason


def emergency_reasons(
    conn: psycopg.Connection,
    model_id: int,
    at: pd.Timestamp,
    accuracy: dict | None,
    rules: TradingRules,
) -> list[str]:
    """Why the version's ledger must stop, judged on the positions closed by `at` and on its
    live figures (`accuracy`: n and direction_accuracy, when they rest on enough outcomes)."""
    reasons = []
    live = (accuracy or {}).get("direction_accuracy")
    if live is not None and live < EMERGENCY_ACCURACY:
        reasons.append(
            f"live direction accuracy {live:.3f} < {EMERGENCY_ACCURACY} over "
            f"{counted(accuracy['n'], accuracy.get('calls'))}"
        )
    last = conn.execute(
        "SELECT pnl FROM paper_positions WHERE model_id = %s AND status = 'closed' "
        "AND closed_at <= %s ORDER BY closed_at DESC, id DESC LIMIT %s",
        (model_id, at, EMERGENCY_LOSSES_IN_A_ROW),
    ).fetchall()
    if len(last) == EMERGENCY_LOSSES_IN_A_ROW and all(r["pnl"] < 0 for r in last):
        reasons.append(f"{EMERGENCY_LOSSES_IN_A_ROW} losing trades in a row")
    day = pd.Timestamp(at).tz_convert("UTC").normalize()
    lost = conn.execute(
        "SELECT coalesce(sum(pnl), 0) AS pnl FROM paper_positions WHERE model_id = %s "
        "AND status = 'closed' AND closed_at >= %s AND closed_at <= %s",
        (model_id, day, at),
    ).fetchone()["pnl"]
    if lost < -EMERGENCY_DAILY_LOSS * rules.capital:
        reasons.append(
            f"the day's loss ${-lost:.2f} exceeds {EMERGENCY_DAILY_LOSS:.0%} of the "
            f"${rules.capital:.0f} capital"
        )
    return reasons


class Pauses:
    """The paused ledgers; a pause is claimed by INSERT (once, even across concurrent runs)
    and alerted once."""

    def __init__(self, conn: psycopg.Connection, alert: Callable[[str, list[str]], None]) -> None:
        self.conn = conn
        self.alert = alert
        rows = conn.execute("SELECT model_id FROM paper_pauses").fetchall()
        self.paused = {r["model_id"] for r in rows}
        self.new: list[str] = []

    def pause(self, model_id: int, at: pd.Timestamp, reasons: list[str]) -> None:
        claimed = self.conn.execute(
            "INSERT INTO paper_pauses (model_id, paused_at, reasons) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING model_id",
            (model_id, at, json.dumps(reasons)),
        ).fetchone()
        self.paused.add(model_id)
        if claimed:
            self.conn.commit()
            tag = self.conn.execute(
                "SELECT name || ':' || version AS tag FROM models WHERE id = %s", (model_id,)
            ).fetchone()["tag"]
            self.new.append(tag)
            self.alert(f"paper trading paused: {tag}", [*reasons, "new signals are not traded"])

    def check(self, model_id: int, at: pd.Timestamp, accuracy: dict | None, rules) -> bool:
        """Whether the version's ledger is paused at `at` (pausing it now if it must stop)."""
        if model_id not in self.paused:
            reasons = emergency_reasons(self.conn, model_id, at, accuracy, rules)
            if reasons:
                self.pause(model_id, at, reasons)
        return model_id in self.paused


def run_ledger(
    conn: psycopg.Connection,
    candles: RealisedCandles,
    live: dict[int, dict],
    alert: Callable[[str, list[str]], None],
    rules: TradingRules | None = None,
) -> dict:
    """Close what the new candles decide, stop the ledgers that must stop (on their live
    accuracy too), then take the new signals in time order."""
    rules = rules or TradingRules()
    closed = close_positions(conn, candles, rules)
    pauses = Pauses(conn, alert)
    traded = conn.execute("SELECT DISTINCT model_id FROM paper_positions").fetchall()
    for model_id in {r["model_id"] for r in traded} | set(live):
        pauses.check(model_id, candles.now, live.get(model_id), rules)
    opened = open_positions(conn, candles, rules, pauses)
    return {"closed": closed, "signals": opened, "paused": pauses.new}
