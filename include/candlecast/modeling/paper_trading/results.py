"""What a paper-trading run made: the result, the realised-equity curve, drawdown, exposure and
buy-and-hold over the same window, and their strict-JSON summaries."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from candlecast.modeling.paper_trading.inputs import Series, Signals, ns
from candlecast.modeling.paper_trading.rules import EXIT_REASONS, TradingRules

MAX_CURVE_POINTS = 500


@dataclass(frozen=True)
class BuyAndHold:
    """Capital split equally across the signalled coins, bought at the close of the first
    signal timestamp, held to the last close, a fee paid once each way."""

    n_coins: int
    net_pnl: float
    total_return: float
    max_drawdown: float
    max_drawdown_fraction: float


@dataclass(frozen=True)
class PaperTradeResult:
    rules: TradingRules
    n_signals: int
    n_eligible_signals: int  # 'up' and confidence >= threshold
    n_trades: int
    win_rate: float  # NaN without trades
    profit_factor: float | None  # gross wins / gross losses; None without losses
    net_pnl: float  # after fees
    fees_paid: float
    total_return: float  # net_pnl / rules.capital
    max_drawdown: float  # $, of the realised-equity curve
    max_drawdown_fraction: float  # of rules.capital
    exposure: float  # fraction of the window's timestamps with at least one position
    buy_and_hold: BuyAndHold
    trades: pd.DataFrame  # TRADE_COLUMNS
    equity_curve: pd.DataFrame  # timestamp, equity (realised), buy_and_hold (marked to market)
    long_only: bool = True

    def as_dict(self) -> dict:
        """Strict-JSON values (NaN becomes None): trades summarised, the curve downsampled."""
        figures = {
            name: getattr(self, name)
            for name in (
                "long_only",
                "n_signals",
                "n_eligible_signals",
                "n_trades",
                "win_rate",
                "profit_factor",
                "net_pnl",
                "fees_paid",
                "total_return",
                "max_drawdown",
                "max_drawdown_fraction",
                "exposure",
            )
        }
        return json_safe(
            figures
            | {
                "rules": asdict(self.rules) | {"capital": self.rules.capital},
                "buy_and_hold": asdict(self.buy_and_hold),
                "trades": summarise_trades(self.trades),
                "equity_curve": downsample_curve(self.equity_curve),
            }
        )


def window(
    signals: Signals, series: list[Series], exits: np.ndarray, rules: TradingRules
) -> np.ndarray:
    """Every candle time of the signalled coins from the first signal to the end of the last
    possible holding period (or of the data), so extra candles after it change nothing."""
    if not len(signals.time):
        return np.empty(0, dtype=np.int64)
    times = np.unique(np.concatenate([coin.time for coin in series]))
    times = times[times >= signals.time.min()]
    last_signal = np.searchsorted(times, signals.time.max())
    end = times[min(last_signal + rules.time_exit_candles, len(times) - 1)]
    return times[times <= max(end, exits.max(initial=end))]


def realised_equity(trades: pd.DataFrame, grid: np.ndarray, rules: TradingRules) -> np.ndarray:
    exits = np.searchsorted(grid, ns(trades["exit_time"]))
    realised = np.bincount(exits, weights=trades["pnl"].to_numpy(), minlength=len(grid))
    return rules.capital + np.cumsum(realised)


def exposure(trades: pd.DataFrame, grid: np.ndarray) -> float:
    """A position is held through the candles after its entry candle up to its exit candle."""
    if not len(grid):
        return 0.0
    change = np.zeros(len(grid) + 1)
    np.add.at(change, np.searchsorted(grid, ns(trades["entry_time"])) + 1, 1)
    np.add.at(change, np.searchsorted(grid, ns(trades["exit_time"])) + 1, -1)
    return float((np.cumsum(change)[: len(grid)] > 0).mean())


def buy_and_hold_of(
    series: list[Series], grid: np.ndarray, rules: TradingRules
) -> tuple[np.ndarray, BuyAndHold]:
    if not len(grid):
        nan = math.nan
        return np.empty(0), BuyAndHold(0, nan, nan, nan, nan)
    allocation = rules.capital / len(series)
    curve = np.zeros(len(grid))
    fees = 0.0
    for coin in series:
        bought = np.searchsorted(coin.time, grid[0])  # first close at or after the start
        if bought == len(coin.time) or coin.time[bought] > grid[-1]:  # none: it stays cash
            curve += allocation
            continue
        quantity = allocation / coin.close[bought]
        latest = np.searchsorted(coin.time, grid, side="right") - 1
        held = quantity * coin.close[np.maximum(latest, 0)] - allocation * rules.fee
        curve += np.where(latest >= bought, held, allocation)
        fees += quantity * coin.close[latest[-1]] * rules.fee
    curve[-1] -= fees  # sold at the last close
    net = float(curve[-1] - rules.capital)
    drawdown = max_drawdown(curve, rules.capital)
    figures = BuyAndHold(len(series), net, net / rules.capital, drawdown, drawdown / rules.capital)
    return curve, figures


def max_drawdown(equity: np.ndarray, capital: float) -> float:
    path = np.r_[capital, equity]
    return float((np.maximum.accumulate(path) - path).max())


def summarise_trades(trades: pd.DataFrame) -> dict:
    """Counts and P&L per exit reason, best, worst and mean trade, mean holding in candles."""
    pnl = trades["pnl"]
    by_reason = trades.groupby("exit_reason")["pnl"].agg(["size", "sum"])
    return {
        "n": len(trades),
        "by_exit_reason": {
            reason: {
                "n": int(by_reason["size"].get(reason, 0)),
                "pnl": float(by_reason["sum"].get(reason, 0.0)),
            }
            for reason in EXIT_REASONS
        },
        "mean_pnl": float(pnl.mean()) if len(pnl) else None,
        "best_pnl": float(pnl.max()) if len(pnl) else None,
        "worst_pnl": float(pnl.min()) if len(pnl) else None,
        "mean_candles_held": float(trades["candles_held"].mean()) if len(pnl) else None,
    }


def downsample_curve(curve: pd.DataFrame, points: int = MAX_CURVE_POINTS) -> dict:
    """At most `points` evenly spaced rows, the first and last kept; times as ISO strings."""
    if len(curve) > points:
        curve = curve.iloc[np.unique(np.linspace(0, len(curve) - 1, points).round().astype(int))]
    return {"timestamp": [t.isoformat() for t in curve["timestamp"]]} | {
        column: curve[column].astype(float).tolist()
        for column in curve.columns
        if column != "timestamp"
    }


def json_safe(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
