"""Scale-free features, one function for training and serving (their single shared import).

Every column is a return, a ratio or a normalised indicator, so one model serves BTC and a
$0.0001 coin alike. Row t uses candles up to and including t only. Families: returns, trend
(distance to moving averages), momentum, volatility, volume, candle shape, statistics,
calendar, and the market context (the coin against BTC and ETH at the same candle, when a
`MarketContext` is given); TA-Lib for the classic indicators, pandas-ta where TA-Lib has no
equivalent. Windows stay within WARMUP_CANDLES so that even the 59 months of a young coin's
1M series can be served.
"""

from candlecast.modeling.features.compute import (
    FEATURE_SET_VERSION,
    VOLATILITY_COLUMN,
    compute_features,
    feature_columns,
)
from candlecast.modeling.features.families import WARMUP_CANDLES
from candlecast.modeling.features.market import market_columns

__all__ = [
    "FEATURE_SET_VERSION",
    "VOLATILITY_COLUMN",
    "WARMUP_CANDLES",
    "compute_features",
    "feature_columns",
    "market_columns",
]
