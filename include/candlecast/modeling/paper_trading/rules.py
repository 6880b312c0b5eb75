"""The paper-trading rules, checked once, and the trades they make: an 'up' signal at
confidence >= `threshold` (0.60) opens `stake` ($100), at most `max_positions` (5) open and one
per coin; a position closes at -`stop_loss` (5 %), +`take_profit` (10 %) or after
`time_exit_candles` (24), paying `fee` (0.26 %) a side."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
