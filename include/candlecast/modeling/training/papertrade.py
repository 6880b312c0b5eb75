"""Paper trading of a model's direction signals under seed document 002's rules, beside
buy-and-hold over the same window.

Spot trading: only 'up' signals open (long) positions; 'down' signals are never traded.
Times are candle open times, as in the store: a position enters at the close of its signal
candle and exits during its exit candle (stop, target) or at that candle's close (time, end of
data)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

SIGNAL_COLUMNS = ("timestamp", "ticker", "direction", "confidence")
CANDLE_COLUMNS = ("timestamp", "open", "high", "low", "close")
DIRECTIONS = frozenset({"up", "down"})
EXIT_REASONS = ("stop_loss", "take_profit", "time", "end_of_data")
TRADE_COLUMNS = (
    "ticker",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "exit_reason",
    "pnl",
    "fees",
    "candles_held",
)
MAX_CURVE_POINTS = 500


@dataclass(frozen=True)
class TradingRules:
    threshold: float = 0.60
    stake: float = 100.0
    max_positions: int = 5
    stop_loss: float = 0.05
    take_profit: float = 0.10
    time_exit_candles: int = 24
    fee: float = 0.0026

    def __post_init__(self) -> None:
        problems = [
            f"{name}={value!r} must be {rule}"
            for name, value, ok, rule in (
                ("threshold", self.threshold, 0 < self.threshold <= 1, "in (0, 1]"),
                ("stake", self.stake, self.stake > 0, "> 0"),
                ("max_positions", self.max_positions, self.max_positions >= 1, "an int >= 1"),
                ("stop_loss", self.stop_loss, 0 < self.stop_loss < 1, "in (0, 1)"),
                ("take_profit", self.take_profit, self.take_profit > 0, "> 0"),
                ("time_exit_candles", self.time_exit_candles, self.time_exit_candles >= 1, ">= 1"),
                ("fee", self.fee, 0 <= self.fee < 1, "in [0, 1)"),
            )
            if not ok
        ]
        for name in ("max_positions", "time_exit_candles"):
            if not isinstance(getattr(self, name), int | np.integer):
                problems.append(f"{name}={getattr(self, name)!r} must be an int")
        if problems:
            raise ValueError("paper trading rules: " + "; ".join(problems))

    @property
    def capital(self) -> float:
        """The capital at risk: every slot filled."""
        return self.max_positions * self.stake


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
        return _json_safe(
            figures
            | {
                "rules": asdict(self.rules) | {"capital": self.rules.capital},
                "buy_and_hold": asdict(self.buy_and_hold),
                "trades": summarise_trades(self.trades),
                "equity_curve": downsample_curve(self.equity_curve),
            }
        )


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
    checked = _checked_signals(signals)
    series = [_series_of(ticker, candles) for ticker in checked.tickers]
    eligible = _eligible(checked, rules)
    trades = _trades_frame(_simulate(eligible, checked.tickers, series, rules))
    grid = _window(checked, series, _ns(trades["exit_time"]), rules)
    equity = _realised_equity(trades, grid, rules)
    hold_curve, buy_and_hold = _buy_and_hold(series, grid, rules)
    pnl = trades["pnl"].to_numpy()
    drawdown = _max_drawdown(equity, rules.capital)
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
        exposure=_exposure(trades, grid),
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


@dataclass(frozen=True)
class _Series:
    """One coin's candles as arrays; `time` in ns since the epoch, strictly increasing."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


def _utc_ns(values, what: str) -> np.ndarray:
    if not len(values):
        return np.empty(0, dtype=np.int64)
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        raise ValueError(f"{what}: timestamps must be tz-aware (UTC), got naive ones")
    return index.tz_convert("UTC").as_unit("ns").asi8


@dataclass(frozen=True)
class _Signals:
    """Signals as arrays; `coin` indexes `tickers` (sorted)."""

    tickers: list[str]
    time: np.ndarray
    coin: np.ndarray
    up: np.ndarray
    confidence: np.ndarray

    def take(self, rows: np.ndarray) -> _Signals:
        return _Signals(
            self.tickers, self.time[rows], self.coin[rows], self.up[rows], self.confidence[rows]
        )


def _checked_signals(signals: pd.DataFrame) -> _Signals:
    missing = [c for c in SIGNAL_COLUMNS if c not in signals.columns]
    if missing:
        raise ValueError(f"signals: missing columns {missing}")
    direction = signals["direction"]
    unknown = sorted(set(direction[~direction.isin(list(DIRECTIONS))].astype(str).unique()))
    if unknown:
        raise ValueError(f"signals: direction must be 'up' or 'down', got {unknown[:5]}")
    confidence = pd.to_numeric(signals["confidence"]).to_numpy(dtype=float)
    if not ((confidence >= 0) & (confidence <= 1)).all():  # NaN fails too
        raise ValueError("signals: confidence must be a probability in [0, 1] (no NaN)")
    coin, tickers = pd.factorize(signals["ticker"].astype(str), sort=True)
    checked = _Signals(
        [str(t) for t in tickers],
        _utc_ns(signals["timestamp"], "signals"),
        coin.astype(np.int64),
        (direction == "up").to_numpy(dtype=bool),
        confidence,
    )
    order = np.lexsort((checked.time, checked.coin))
    coin, time = checked.coin[order], checked.time[order]
    if ((coin[1:] == coin[:-1]) & (time[1:] == time[:-1])).any():
        raise ValueError("signals: more than one signal for a ticker at the same timestamp")
    return checked


def _series_of(ticker: str, candles: Mapping[str, pd.DataFrame]) -> _Series:
    if ticker not in candles:
        raise ValueError(f"candles: no frame for signalled ticker {ticker!r}")
    frame = candles[ticker]
    missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"candles[{ticker!r}]: missing columns {missing}")
    time = _utc_ns(frame["timestamp"], f"candles[{ticker!r}]")
    order = np.argsort(time, kind="stable")
    time = time[order]
    if (np.diff(time) == 0).any():
        raise ValueError(f"candles[{ticker!r}]: duplicate timestamps")
    prices = [frame[c].to_numpy(dtype=float)[order] for c in ("open", "high", "low", "close")]
    if not all(np.isfinite(p).all() and (p > 0).all() for p in prices):
        raise ValueError(f"candles[{ticker!r}]: prices must be finite and positive")
    return _Series(time, *prices)


def _eligible(signals: _Signals, rules: TradingRules) -> _Signals:
    """Tradeable signals in the order they are taken: time, then the most confident first."""
    chosen = np.flatnonzero(signals.up & (signals.confidence >= rules.threshold))
    order = np.lexsort((signals.coin[chosen], -signals.confidence[chosen], signals.time[chosen]))
    return signals.take(chosen[order])


def _simulate(
    eligible: _Signals, tickers: list[str], series: list[_Series], rules: TradingRules
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
                trade = _trade(tickers[coin], series[coin], int(entry_index[row]), rules)
                held[coin] = trade[3]
                trades.append(trade)
            row += 1
    return trades


def _entry_indices(eligible: _Signals, series: list[_Series]) -> np.ndarray:
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


def _trade(ticker: str, coin: _Series, entry: int, rules: TradingRules) -> tuple:
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


def _exit(coin: _Series, entry: int, entry_price: float, rules: TradingRules):
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


def _trades_frame(trades: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(trades, columns=list(TRADE_COLUMNS))
    for column in ("entry_time", "exit_time"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), utc=True)
    frame["ticker"] = frame["ticker"].astype(str)
    frame["exit_reason"] = frame["exit_reason"].astype(str)
    for column in ("entry_price", "exit_price", "pnl", "fees"):
        frame[column] = frame[column].astype(float)
    frame["candles_held"] = frame["candles_held"].astype("int64")
    return frame


def _window(
    signals: _Signals, series: list[_Series], exits: np.ndarray, rules: TradingRules
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


def _realised_equity(trades: pd.DataFrame, grid: np.ndarray, rules: TradingRules) -> np.ndarray:
    exits = np.searchsorted(grid, _ns(trades["exit_time"]))
    realised = np.bincount(exits, weights=trades["pnl"].to_numpy(), minlength=len(grid))
    return rules.capital + np.cumsum(realised)


def _exposure(trades: pd.DataFrame, grid: np.ndarray) -> float:
    """A position is held through the candles after its entry candle up to its exit candle."""
    if not len(grid):
        return 0.0
    change = np.zeros(len(grid) + 1)
    np.add.at(change, np.searchsorted(grid, _ns(trades["entry_time"])) + 1, 1)
    np.add.at(change, np.searchsorted(grid, _ns(trades["exit_time"])) + 1, -1)
    return float((np.cumsum(change)[: len(grid)] > 0).mean())


def _buy_and_hold(
    series: list[_Series], grid: np.ndarray, rules: TradingRules
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
    drawdown = _max_drawdown(curve, rules.capital)
    figures = BuyAndHold(len(series), net, net / rules.capital, drawdown, drawdown / rules.capital)
    return curve, figures


def _max_drawdown(equity: np.ndarray, capital: float) -> float:
    path = np.r_[capital, equity]
    return float((np.maximum.accumulate(path) - path).max())


def _ns(times: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(times).as_unit("ns").asi8


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


def _json_safe(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
