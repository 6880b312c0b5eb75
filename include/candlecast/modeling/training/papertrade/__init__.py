"""Paper trading of a model's direction signals under seed document 002's rules (`rules`), on
checked inputs (`inputs`), simulated in time order across coins (`simulate`), with its figures
beside buy-and-hold (`results`)."""

from candlecast.modeling.training.papertrade.results import (
    BuyAndHold,
    PaperTradeResult,
    downsample_curve,
    summarise_trades,
)
from candlecast.modeling.training.papertrade.rules import TradingRules
from candlecast.modeling.training.papertrade.simulate import paper_trade

__all__ = [
    "BuyAndHold",
    "PaperTradeResult",
    "TradingRules",
    "downsample_curve",
    "paper_trade",
    "summarise_trades",
]
