"""Models, the side serving shares.

    `features/`       the scale-free features, one function for training and serving
    `market_context`  the benchmarks (BTC, ETH) the features measure a coin against
    `learners/`       the base learners (trees, ridge, LSTM)
    `naive_rankers`   naive rankers, served like learners
    `predictor`       the trained forecaster as served
    `confidence`      the forecast's confidence: the calibration as served
    `relative_z`      a prediction against the other coins' at the same candle
    `paper_trading/`  the paper-trading rules and their simulation
    `registry`        versions in the BentoML model store and their `models` rows
    `model_store`     the model store's side of releases (stage labels, removal)
    `releases`        the release state machine: champion, challengers, history
    `champions`       which version was champion at a past time
    `model_sync`      models through the object store, for replicas on other hosts
    `training/`       training a timeframe's forecaster (above this package)

May import: `candlecast.ohlcv`, `candlecast.marketdata`, `candlecast.ops`, `candlecast.settings`,
`candlecast.timeframes`. Training lives in `candlecast.modeling.training`, above this package;
nothing here imports it, so serving never loads training code.
"""

from candlecast.modeling import releases
from candlecast.modeling.confidence import DEFAULT_RANK_FEE, Calibration, sides
from candlecast.modeling.features import (
    FEATURE_SET_VERSION,
    VOLATILITY_COLUMN,
    WARMUP_CANDLES,
    compute_features,
    feature_columns,
    market_columns,
)
from candlecast.modeling.learners import Z_CLIP, LSTMLearner
from candlecast.modeling.market_context import BenchmarkSeries, MarketContext, choose_benchmarks
from candlecast.modeling.model_sync import (
    point_at,
    publish_model,
    pull_models,
    pull_version,
    unpublish,
)
from candlecast.modeling.predictor import CandleShape, ForecastModel, ServingInputs
from candlecast.modeling.registry import (
    NoChampion,
    json_safe,
    load_model,
    load_version,
    model_name,
    model_row_id,
    pinned_reference,
    save_model,
    serving_reference,
    use_model_store,
)
from candlecast.modeling.relative_z import mid_percentile

__all__ = [
    "DEFAULT_RANK_FEE",
    "FEATURE_SET_VERSION",
    "VOLATILITY_COLUMN",
    "WARMUP_CANDLES",
    "Z_CLIP",
    "BenchmarkSeries",
    "Calibration",
    "CandleShape",
    "ForecastModel",
    "LSTMLearner",
    "MarketContext",
    "NoChampion",
    "ServingInputs",
    "choose_benchmarks",
    "compute_features",
    "feature_columns",
    "json_safe",
    "load_model",
    "load_version",
    "market_columns",
    "mid_percentile",
    "model_name",
    "model_row_id",
    "pinned_reference",
    "point_at",
    "publish_model",
    "pull_models",
    "pull_version",
    "releases",
    "save_model",
    "serving_reference",
    "sides",
    "unpublish",
    "use_model_store",
]
