"""Serving forecasts, independent of BentoML: one request end to end (`forecaster`), a forecast from
a model and a candle window and its storage (`forecast`; `forecast_writer`: group commit), fresh
candles with single-flight and a stale fallback (`fresh_candles`, `singleflight`), candle frames and
their freshness marks as Redis holds them (`codec`), the prediction cache, its answers sent as
stored (`prediction_cache`), the /healthz checks (`healthz`), the other endpoints' answers
(`reads`, live accuracy among them, read from the `score_outcomes` DAG's tables), the objects
built once per worker (`assembly`), the in-memory LRU they share (`lru`), the swap to a newly
promoted champion and to each new challenger (`champion_watcher`), the versions a pinned Bento serves
instead (`pinned`), the served universe's predictions at a candle, shared by every worker
(`universe`, `relative_steps`: a forecast's fields against it) and POST /rank over it (`ranking`), the
background queue and sample of the challengers' shadow forecasts (`shadow`) and cached /predict
answers given on the server's event loop (`loop_answers`); answers as of a past time, from
the store and the version champion then, never stored (`as_of`).

May import: `candlecast.api`, `candlecast.modeling` (never its `training`), `candlecast.ohlcv`
(the store and the cleaner; never validation), `candlecast.marketdata`, `candlecast.ops`,
`candlecast.settings`, `candlecast.timeframes`.
"""

from candlecast.api import NO_OUTCOMES
from candlecast.serving import reads
from candlecast.serving.as_of import AsOfCandles, AsOfForecasts
from candlecast.serving.assembly import build_forecaster, model_references
from candlecast.serving.champion_watcher import ChampionWatcher, follow_champions
from candlecast.serving.codec import (
    DecodedFrames,
    candles_key,
    frame_bytes,
    frame_from_bytes,
    mark_key,
)
from candlecast.serving.forecast import (
    InputCache,
    InsufficientHistory,
    make_forecast,
    persist_forecast,
)
from candlecast.serving.forecast_writer import ForecastWriter
from candlecast.serving.forecaster import Forecaster
from candlecast.serving.fresh_candles import (
    CACHED_CANDLES,
    SERVING_CANDLES,
    CandleWindow,
    FreshCandles,
    FreshMark,
    MarketDataUnavailable,
    NoCandles,
    ProviderState,
    feature_window,
    is_fresh,
)
from candlecast.serving.healthz import check_health
from candlecast.serving.loaded_model import LoadedModel
from candlecast.serving.loop_answers import ANSWER_HEADER, CachedPredict, LoopAnswers
from candlecast.serving.lru import LruCache
from candlecast.serving.pinned import PinnedRelease, pin_labels, pinned_release
from candlecast.serving.prediction_cache import PredictionCache, prediction_key
from candlecast.serving.rank_as_of import rank_as_of
from candlecast.serving.ranking import rank
from candlecast.serving.ranking import table as ranking_table
from candlecast.serving.relative_steps import Universe, Unranked, relative_steps
from candlecast.serving.request_checks import steps_until
from candlecast.serving.shadow import ShadowQueue, in_sample
from candlecast.serving.universe import UniverseSource, compute_universe, universe_key

__all__ = [
    "ANSWER_HEADER",
    "AsOfCandles",
    "AsOfForecasts",
    "CACHED_CANDLES",
    "NO_OUTCOMES",
    "SERVING_CANDLES",
    "CachedPredict",
    "CandleWindow",
    "ChampionWatcher",
    "DecodedFrames",
    "ForecastWriter",
    "Forecaster",
    "FreshCandles",
    "FreshMark",
    "InputCache",
    "InsufficientHistory",
    "LoopAnswers",
    "LruCache",
    "MarketDataUnavailable",
    "NoCandles",
    "PinnedRelease",
    "PredictionCache",
    "ProviderState",
    "LoadedModel",
    "ShadowQueue",
    "build_forecaster",
    "candles_key",
    "mark_key",
    "check_health",
    "feature_window",
    "follow_champions",
    "frame_bytes",
    "frame_from_bytes",
    "in_sample",
    "is_fresh",
    "make_forecast",
    "model_references",
    "persist_forecast",
    "pin_labels",
    "pinned_release",
    "prediction_key",
    "rank",
    "rank_as_of",
    "ranking_table",
    "reads",
    "Universe",
    "UniverseSource",
    "Unranked",
    "compute_universe",
    "relative_steps",
    "universe_key",
    "steps_until",
]
