"""Paper trading of a model's direction signals under the trading rules (`TradingRules`: entry
at confidence >= 0.60, $100 a position, at most 5 open and 1 per coin, stop -5 %, target +10 %,
exit after 24 candles, 0.26 % fee a side), beside buy-and-hold over the same window.

Spot trading: only 'up' signals open (long) positions; 'down' signals are never traded.
Times are candle open times, as in the store: a position enters at the close of its signal
candle and exits during its exit candle (stop, target) or at that candle's close (time, end of
data)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from candlecast.modeling.paper_trading.inputs import (
    Series,
    Signals,
    checked_signals,
    ns,
    series_of,
)
from candlecast.modeling.paper_trading.results import (
    PaperTradeResult,
    buy_and_hold_of,
    exposure,
    max_drawdown,
    realised_equity,
    window,
)
from candlecast.modeling.paper_trading.rules import TRADE_COLUMNS, TradingRules


def paper_trade(
    signals: pd.DataFrame,
    candles: Mapping[str, pd.DataFrame],
    *,
    threshold: float = 0.60,
    stake: float = 100.0,
    max_positions: int = 5,
    stop_loss: float = 0.05,
    take_profit: float = 0.10,
    time_exit_candles: int = 24,
    fee: float = 0.0026,
) -> PaperTradeResult:
    """Trade `signals` (timestamp, ticker, direction 'up'|'down', confidence) on `candles`
    (ticker → OHLC frame covering the signal window and after), in time order across all
    coins, the most confident signals first when slots are short."""
    rules = TradingRules(
        threshold, stake, max_positions, stop_loss, take_profit, time_exit_candles, fee
    )
    checked = checked_signals(signals)
    series = [series_of(ticker, candles) for ticker in checked.tickers]
    eligible = _eligible(checked, rules)
    trades = trades_frame(_simulate(eligible, checked.tickers, series, rules))
    grid = window(checked, series, ns(trades["exit_time"]), rules)
    equity = realised_equity(trades, grid, rules)
    hold_curve, buy_and_hold = buy_and_hold_of(series, grid, rules)
    pnl = trades["pnl"].to_numpy()
    drawdown = max_drawdown(equity, rules.capital)
    gross_loss = -pnl[pnl < 0].sum()
    return PaperTradeResult(
        rules=rules,
        n_signals=len(checked.time),
        n_eligible_signals=len(eligible.time),
        n_trades=len(trades),
        win_rate=float((pnl > 0).mean()) if len(pnl) else math.nan,
        profit_factor=float(pnl[pnl > 0].sum() / gross_loss) if gross_loss > 0 else None,
        net_pnl=float(pnl.sum()),
        fees_paid=float(trades["fees"].sum()),
        total_return=float(pnl.sum() / rules.capital),
        max_drawdown=drawdown,
        max_drawdown_fraction=drawdown / rules.capital,
        exposure=exposure(trades, grid),
        buy_and_hold=buy_and_hold,
        trades=trades,
        equity_curve=pd.DataFrame(
            {
                "timestamp": pd.DatetimeIndex(grid, tz="UTC"),
                "equity": equity,
                "buy_and_hold": hold_curve,
            }
        ),
    )


def _eligible(signals: Signals, rules: TradingRules) -> Signals:
    """Tradeable signals in the order they are taken: time, then the most confident first."""
    chosen = np.flatnonzero(signals.up & (signals.confidence >= rules.threshold))
    order = np.lexsort((signals.coin[chosen], -signals.confidence[chosen], signals.time[chosen]))
    return signals.take(chosen[order])


def _simulate(
    eligible: Signals, tickers: list[str], series: list[Series], rules: TradingRules
) -> list[tuple]:
    entry_index = _entry_indices(eligible, series)
    times = eligible.time
    starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]]) if len(times) else []
    ends = np.r_[starts[1:], len(times)] if len(times) else []
    held: dict[int, int] = {}  # coin → open time of its exit candle
    trades: list[tuple] = []
    for start, end in zip(starts, ends, strict=True):
        now = times[start]
        held = {coin: exit_time for coin, exit_time in held.items() if exit_time > now}
        row = start
        while len(held) < rules.max_positions and row < end:
            coin = int(eligible.coin[row])
            if coin not in held:
                trade = simulate_position(tickers[coin], series[coin], int(entry_index[row]), rules)
                held[coin] = trade[3]
                trades.append(trade)
            row += 1
    return trades


def _entry_indices(eligible: Signals, series: list[Series]) -> np.ndarray:
    """Each signal's candle within its coin's series; a signal without one is an error."""
    index = np.empty(len(eligible.time), dtype=np.int64)
    by_coin = np.argsort(eligible.coin, kind="stable")
    bounds = np.searchsorted(eligible.coin[by_coin], np.arange(len(series) + 1))
    for coin, coin_series in enumerate(series):
        rows = by_coin[bounds[coin] : bounds[coin + 1]]
        times = eligible.time[rows]
        found = np.minimum(np.searchsorted(coin_series.time, times), len(coin_series.time) - 1)
        absent = coin_series.time[found] != times
        if absent.any():
            raise ValueError(
                f"candles[{eligible.tickers[coin]!r}]: no candle at {absent.sum()} signal "
                f"timestamps, e.g. {pd.Timestamp(times[absent][0], tz='UTC')}"
            )
        index[rows] = found
    return index


def simulate_position(ticker: str, coin: Series, entry: int, rules: TradingRules) -> tuple:
    """One long position entered at the close of candle `entry`, as a TRADE_COLUMNS tuple;
    reason `end_of_data` when the candles end before an exit (the forward ledger: still open)."""
    entry_price = float(coin.close[entry])
    exit_index, exit_price, reason = _exit(coin, entry, entry_price, rules)
    exit_value = rules.stake * exit_price / entry_price
    fees = rules.stake * rules.fee + exit_value * rules.fee
    return (
        ticker,
        int(coin.time[entry]),
        entry_price,
        int(coin.time[exit_index]),
        exit_price,
        reason,
        exit_value - rules.stake - fees,
        fees,
        exit_index - entry,
    )


def _exit(coin: Series, entry: int, entry_price: float, rules: TradingRules):
    """(exit candle index, price, reason): the first later candle that touches the stop or
    the target, else the time exit, else the last candle of the data."""
    stop = entry_price * (1 - rules.stop_loss)
    target = entry_price * (1 + rules.take_profit)
    last = len(coin.time) - 1
    end = min(entry + rules.time_exit_candles, last)
    touched = (coin.low[entry + 1 : end + 1] <= stop) | (coin.high[entry + 1 : end + 1] >= target)
    if touched.any():
        candle = entry + 1 + int(np.argmax(touched))
        return (candle, *_fill(coin.open[candle], coin.low[candle], stop, target))
    reason = "time" if entry + rules.time_exit_candles <= last else "end_of_data"
    return end, float(coin.close[end]), reason


def _fill(open_price: float, low: float, stop: float, target: float) -> tuple[float, str]:
    """The open comes first, so a gap fills there; inside the candle the order of the high
    and the low is unknown, and the stop is assumed (conservative)."""
    if open_price <= stop:
        return float(open_price), "stop_loss"
    if open_price >= target:
        return float(open_price), "take_profit"
    if low <= stop:
        return stop, "stop_loss"
    return target, "take_profit"


def trades_frame(trades: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(trades, columns=list(TRADE_COLUMNS))
    for column in ("entry_time", "exit_time"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), utc=True)
    frame["ticker"] = frame["ticker"].astype(str)
    frame["exit_reason"] = frame["exit_reason"].astype(str)
    for column in ("entry_price", "exit_price", "pnl", "fees"):
        frame[column] = frame[column].astype(float)
    frame["candles_held"] = frame["candles_held"].astype("int64")
    return frame
