"""Paper trading of a model's direction signals under seed document 002's rules (`rules`), on
checked inputs (`inputs`), simulated in time order across coins (`simulate`), with its figures
beside buy-and-hold (`results`). One position's entry-to-exit (`simulate_position`) is also
what the forward ledger of served forecasts (`candlecast.monitoring.paper_ledger`) runs."""

from candlecast.modeling.paper_trading.inputs import Series
from candlecast.modeling.paper_trading.results import (
    BuyAndHold,
    PaperTradeResult,
    downsample_curve,
    summarise_trades,
)
from candlecast.modeling.paper_trading.rules import TRADE_COLUMNS, TradingRules
from candlecast.modeling.paper_trading.simulate import paper_trade, simulate_position

__all__ = [
    "TRADE_COLUMNS",
    "BuyAndHold",
    "PaperTradeResult",
    "Series",
    "TradingRules",
    "downsample_curve",
    "paper_trade",
    "simulate_position",
    "summarise_trades",
]
