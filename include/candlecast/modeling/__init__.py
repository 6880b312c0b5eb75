"""Models, the side serving shares: the scale-free features (`features`, one function for training
and serving; `market`: the benchmarks they measure a coin against), the base learners (`learners`)
and the naive rankers served like them (`naive_rankers`), the trained forecaster as served
(`predictor`), a prediction against the other coins' at the same candle (`relative_z`), the model
registry (`registry`: the BentoML model store and the `models` rows) and the models through the
object store for replicas on other hosts (`model_sync`).

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
from candlecast.modeling.learners import (
    Z_CLIP,
    LSTMLearner,
    RandomForestLearner,
    RidgeLearner,
    XGBoostLearner,
)
from candlecast.modeling.market_context import (
    BENCHMARK_BASES,
    BenchmarkSeries,
    MarketContext,
    choose_benchmarks,
)
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
from candlecast.modeling.relative_z import centred, mid_percentile

__all__ = [
    "DEFAULT_RANK_FEE",
    "centred",
    "mid_percentile",
    "unpublish",
    "BENCHMARK_BASES",
    "BenchmarkSeries",
    "MarketContext",
    "choose_benchmarks",
    "market_columns",
    "FEATURE_SET_VERSION",
    "VOLATILITY_COLUMN",
    "WARMUP_CANDLES",
    "Z_CLIP",
    "Calibration",
    "CandleShape",
    "ForecastModel",
    "LSTMLearner",
    "RandomForestLearner",
    "RidgeLearner",
    "ServingInputs",
    "XGBoostLearner",
    "compute_features",
    "feature_columns",
    "json_safe",
    "releases",
    "load_model",
    "load_version",
    "model_name",
    "model_row_id",
    "pinned_reference",
    "point_at",
    "publish_model",
    "pull_models",
    "pull_version",
    "save_model",
    "NoChampion",
    "serving_reference",
    "sides",
    "use_model_store",
]
