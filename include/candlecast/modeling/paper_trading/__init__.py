"""Paper trading of a model's direction signals, beside buy-and-hold.

    `rules`     the trading rules, checked once
    `inputs`    the signals and candles it reads, checked
    `simulate`  the simulation in time order across coins; one position's entry to exit
    `results`   its figures and curves beside buy-and-hold

The rules: spot, long only; an 'up' signal at confidence >= 0.60 opens $100 at the signal's
close, at most 5 positions open and 1 per coin; each closes at -5 % (stop), +10 % (target) or
after 24 candles; 0.26 % fee a side. One position's entry-to-exit (`simulate_position`) is also
what the forward ledger of served forecasts (`candlecast.monitoring.paper_ledger`) runs.
"""

from candlecast.modeling.paper_trading.inputs import Series
from candlecast.modeling.paper_trading.rules import TradingRules
from candlecast.modeling.paper_trading.simulate import paper_trade, simulate_position

__all__ = [
    "Series",
    "TradingRules",
    "paper_trade",
    "simulate_position",
]
