"""The daily and weekly reports: plain text (the Slack message is this text) and one PNG beside
it (daily: direction accuracy by horizon; weekly: the paper ledger's equity per version), from
the outcomes scored in the period, the served rankings' realised IC and spread, the drift alerts
and the paper ledger."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

from candlecast.modeling import DEFAULT_RANK_FEE
from candlecast.modeling.paper_trading import TradingRules
from candlecast.monitoring.ranking_outcomes import ranking_lines
from candlecast.monitoring.rolling import HORIZONS, figures
from candlecast.ops.atomic_files import atomic_write

PERIODS = {"daily": pd.Timedelta(days=1), "weekly": pd.Timedelta(days=7)}
MIN_COIN_OUTCOMES = 5
SHOWN_COINS = 3

OUTCOMES = """
    SELECT o.*, m.name || ':' || m.version AS model, s.ticker,
           m.metrics -> 'test' -> 'all' AS test
    FROM prediction_outcomes o JOIN models m ON m.id = o.model_id JOIN symbols s ON s.id = o.symbol_id
    WHERE o.closed_at > %(start)s AND o.closed_at <= %(end)s
"""
SERVED = """
    SELECT timeframe, count(*) FILTER (WHERE NOT shadow) AS n,
           count(*) FILTER (WHERE shadow) AS shadows
    FROM predictions
    WHERE generated_at > %(start)s AND generated_at <= %(end)s GROUP BY timeframe ORDER BY timeframe
"""
DRIFT = """
    SELECT m.name || ':' || m.version AS model, d.day, d.reasons FROM drift_alerts d
    JOIN models m ON m.id = d.model_id WHERE d.day >= %(start)s::date AND d.day <= %(end)s::date
    ORDER BY d.day, model
"""
LEDGER = """
    SELECT m.name || ':' || m.version AS model, q.status, q.pnl, q.closed_at, q.exit_reason,
           (SELECT count(*) FROM paper_pauses z WHERE z.model_id = q.model_id) > 0 AS paused
    FROM paper_positions q JOIN models m ON m.id = q.model_id
    WHERE q.opened_at <= %(end)s
"""


@dataclass(frozen=True)
class Report:
    kind: str
    period_end: pd.Timestamp
    text: str
    outcomes: pd.DataFrame
    ledger: pd.DataFrame

    @property
    def stem(self) -> str:
        return f"{self.kind}-{self.period_end.strftime('%Y%m%dT%H%MZ')}"


def _num(value, digits: int = 3) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and np.isnan(value))
        else f"{value:.{digits}f}"
    )


def _direction(whole: dict) -> str:
    if not whole["calls"]:
        return "direction: no calls (steps without skill name no side)"
    accuracy = _num(whole["direction_accuracy"])
    return (
        f"direction {accuracy}{_ci(whole['direction_accuracy_ci95'])} over {whole['calls']} calls"
    )


def _ci(pair) -> str:
    return f" [{_num(pair[0])}, {_num(pair[1])}]" if pair else ""


def _frame(conn: psycopg.Connection, sql: str, start, end) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(sql, {"start": start, "end": end}).fetchall())


def build_report(
    conn: psycopg.Connection,
    kind: str,
    period_end: pd.Timestamp,
    fee: float = DEFAULT_RANK_FEE,
) -> Report:
    if kind not in PERIODS:
        raise ValueError(f"report kind must be one of {sorted(PERIODS)}, got {kind!r}")
    end = pd.Timestamp(period_end).tz_convert("UTC")
    start = end - PERIODS[kind]
    outcomes = _frame(conn, OUTCOMES, start, end)
    served = conn.execute(SERVED, {"start": start, "end": end}).fetchall()
    drift = conn.execute(DRIFT, {"start": start, "end": end}).fetchall()
    ledger = _frame(conn, LEDGER, start, end)
    lines = [
        f"candlecast {kind} report: {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC",
        "Forecasts served: "
        + (
            f"{sum(r['n'] for r in served)} ("
            + ", ".join(f"{r['timeframe']} {r['n']}" for r in served)
            + ")"
            if served
            else "0"
        )
        + f"; forecast steps scored (target candle closed in the period): {len(outcomes)}",
    ]
    shadows = sum(r["shadows"] for r in served)
    if shadows:
        lines.append(f"Shadow forecasts (challengers on the same requests, not served): {shadows}")
    lines += [""]
    lines += _accuracy_lines(outcomes)
    lines += _coin_lines(outcomes)
    lines += ["", *ranking_lines(conn, start, end, fee)]
    lines += ["", "Drift: " + ("none" if not drift else f"{len(drift)} alert(s)")]
    lines += [f"  {r['day']} {r['model']}: {'; '.join(r['reasons'])}" for r in drift]
    lines += ["", *_ledger_lines(ledger, start, end)]
    lines += ["", *_live_gate_lines(conn)]
    return Report(kind, end, "\n".join(lines), outcomes, ledger)


def _accuracy_lines(outcomes: pd.DataFrame) -> list[str]:
    if outcomes.empty:
        return ["Accuracy: no forecast step's target candle closed in the period."]
    lines = [
        "Accuracy by timeframe and version (versions of one timeframe side by side; "
        "the test window's figure in parentheses):"
    ]
    for code, by_timeframe in outcomes.groupby("timeframe", sort=False):
        for model, group in by_timeframe.groupby("model"):
            whole = figures(group)
            test = group["test"].iloc[0] or {}
            lines.append(
                f"  {code} {model}: n={len(group)} · {_direction(whole)} (test "
                f"{_num(test.get('direction_accuracy'))}) · MAE/random walk "
                f"{_num(whole['mae_ratio_to_random_walk'])}{_ci(whole['mae_ratio_ci95'])} (test "
                f"{_num(test.get('mae_ratio_to_random_walk'))}) · 80 % band "
                f"{_num(whole['interval80_coverage'], 2)} (test "
                f"{_num(test.get('interval80_coverage'), 2)}) · calibration: mean confidence "
                f"{_num(whole['mean_confidence'])}, ECE {_num(whole['ece'])}"
            )
            buckets = []
            for bucket, steps in HORIZONS.items():
                part = group[group["step"].isin(steps)]
                if bucket != "all" and not part.empty:
                    f = figures(part)
                    buckets.append(
                        f"{bucket} {_num(f['direction_accuracy'])} / "
                        f"{_num(f['mae_ratio_to_random_walk'])} (n={len(part)})"
                    )
            if buckets:
                lines.append("    direction / MAE ratio: " + " · ".join(buckets))
    return lines


def _coin_lines(outcomes: pd.DataFrame) -> list[str]:
    if outcomes.empty:
        return []
    moved = outcomes[outcomes["hit"].notna()]
    by_coin = moved.groupby("ticker")["hit"].agg(["mean", "size"])
    by_coin = by_coin[by_coin["size"] >= MIN_COIN_OUTCOMES].sort_values("mean", ascending=False)
    if by_coin.empty:
        return [f"Coins: none with {MIN_COIN_OUTCOMES} or more scored moves."]

    def shown(rows) -> str:
        return ", ".join(f"{t} {r['mean']:.2f} (n={int(r['size'])})" for t, r in rows.iterrows())

    best = by_coin.head(min(SHOWN_COINS, (len(by_coin) + 1) // 2))
    worst = by_coin.iloc[len(best) :].iloc[::-1].head(SHOWN_COINS)
    lines = [f"Best coins (direction accuracy): {shown(best)}"]
    return lines + ([f"Worst coins: {shown(worst)}"] if len(worst) else [])


def _ledger_lines(ledger: pd.DataFrame, start, end) -> list[str]:
    if ledger.empty:
        return ["Paper ledger: no positions yet."]
    rules = TradingRules()  # the ledger's, as the live pass runs it
    lines = [
        f"Paper ledger (long at confidence >= {rules.threshold:.2f}, stop -{rules.stop_loss:.0%}, "
        f"target +{rules.take_profit:.0%}, exit after {rules.time_exit_candles} candles):"
    ]
    for model, group in ledger.groupby("model"):
        closed = group[group["status"] == "closed"]
        closed_at = pd.to_datetime(closed["closed_at"], utc=True)
        period = closed[(closed_at > start) & (closed_at <= end)]
        wins = int((period["pnl"] > 0).sum())
        lines.append(
            f"  {model}: open {int((group['status'] == 'open').sum())} · closed in the period "
            f"{len(period)} ({wins} won) · P&L in the period ${period['pnl'].sum():.2f} · "
            f"since the start ${closed['pnl'].sum():.2f}"
            + (" · PAUSED (emergency stop)" if bool(group["paused"].iloc[0]) else "")
        )
    return lines


def _live_gate_lines(conn: psycopg.Connection) -> list[str]:
    """Each challenger's live comparison with its champion, as the live gate last saw it."""
    from candlecast.monitoring.live_release import summary

    rows = conn.execute(
        "SELECT timeframe, name || ':' || version AS tag, live_gate FROM models "
        "WHERE stage = 'challenger' ORDER BY timeframe, trained_at DESC"
    ).fetchall()
    if not rows:
        return ["Live gate: no challenger waits."]
    lines = ["Live gate (challenger shadows against the champion on the same requests):"]
    return lines + [f"  {r['timeframe']} {r['tag']}: {summary(r['live_gate'])}" for r in rows]


def save_report(report: Report, folder: Path) -> tuple[Path, Path]:
    """The text and its plot, each written whole, named by kind and period end."""
    text = atomic_write(folder / f"{report.stem}.txt", lambda f: f.write(report.text.encode()))
    plot = atomic_write(folder / f"{report.stem}.png", lambda f: f.write(_plot(report)))
    return text, plot


def _plot(report: Report) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.subplots()
    if report.kind == "daily":
        _accuracy_by_horizon(axes, report.outcomes)
    else:
        _equity(axes, report.ledger)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _accuracy_by_horizon(axes, outcomes: pd.DataFrame) -> None:
    axes.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="coin flip")
    if not outcomes.empty:
        moved = outcomes[outcomes["hit"].notna()]
        for code, group in moved.groupby("timeframe"):
            rate = group.groupby("step")["hit"].mean()
            axes.plot(rate.index, rate.to_numpy(float), marker="o", markersize=3, label=code)
    axes.set(xlabel="horizon (steps)", ylabel="direction accuracy", ylim=(0, 1), xlim=(0.5, 30.5))
    axes.set_title(f"{report_title('daily')}: direction accuracy by horizon")
    axes.legend(loc="lower left", fontsize=8)


def _equity(axes, ledger: pd.DataFrame) -> None:
    axes.axhline(0, color="grey", linewidth=1)
    closed = ledger[ledger["status"] == "closed"] if not ledger.empty else ledger
    for model, group in closed.groupby("model") if not closed.empty else []:
        group = group.assign(closed_at=pd.to_datetime(group["closed_at"], utc=True))
        group = group.sort_values("closed_at")
        axes.step(
            group["closed_at"], group["pnl"].cumsum(), where="post", label=model.replace("$", "")
        )
    axes.set(ylabel="realised P&L ($)")
    axes.set_title(f"{report_title('weekly')}: paper ledger equity")
    if not closed.empty:
        axes.legend(loc="upper left", fontsize=8)


def report_title(kind: str) -> str:
    return f"candlecast {kind} report"
