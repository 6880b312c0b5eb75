"""Serving forecasts, independent of BentoML.

    `forecaster`        one forecast request end to end
    `request_checks`    a request's symbol and steps, checked
    `loaded_model`      a model version as a worker serves it
    `forecast`          a forecast from a model and a candle window
    `forecast_writer`   forecasts stored by group commit
    `fresh_candles`     fresh candles: Redis, else the provider; stale fallback
    `singleflight`      one provider call per series at a time
    `codec`             candle frames as Redis holds them
    `prediction_cache`  served forecasts kept in Redis
    `loop_answers`      cached /predict answers on the event loop
    `shared_inputs`     serving inputs shared by the workers through Redis
    `lru`               the in-memory LRU
    `champion_watcher`  the swap to a new champion (and challenger) in each worker
    `pinned`            the versions a pinned Bento serves instead
    `shadow`            the challengers' shadow forecasts
    `universe`          the served universe's predictions at a candle, shared
    `relative_steps`    a forecast's fields against the universe
    `ranking`           POST /rank
    `as_of`             forecasts as of a past time
    `rank_as_of`        POST /rank as of a past time
    `reads`             the other endpoints' answers
    `healthz`           GET /healthz
    `assembly`          the serving objects of a worker, built once

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
from candlecast.serving.forecast import InputCache, make_forecast, persist_forecast
from candlecast.serving.forecast_writer import ForecastWriter
from candlecast.serving.forecaster import Forecaster
from candlecast.serving.fresh_candles import (
    CACHED_CANDLES,
    SERVING_CANDLES,
    CandleWindow,
    FreshCandles,
    MarketDataUnavailable,
    NoCandles,
    ProviderState,
    feature_window,
    is_fresh,
)
from candlecast.serving.loaded_model import LoadedModel
from candlecast.serving.loop_answers import LivePredict, LoopAnswers
from candlecast.serving.pinned import pin_labels, pinned_release
from candlecast.serving.prediction_cache import PredictionCache, prediction_key
from candlecast.serving.rank_as_of import rank_as_of
from candlecast.serving.ranking import rank
from candlecast.serving.ranking import table as ranking_table
from candlecast.serving.request_checks import steps_until
from candlecast.serving.shadow import in_sample
from candlecast.serving.universe import universe_key

__all__ = [
    "CACHED_CANDLES",
    "NO_OUTCOMES",
    "SERVING_CANDLES",
    "AsOfCandles",
    "AsOfForecasts",
    "LivePredict",
    "CandleWindow",
    "ChampionWatcher",
    "DecodedFrames",
    "ForecastWriter",
    "Forecaster",
    "FreshCandles",
    "InputCache",
    "LoadedModel",
    "LoopAnswers",
    "MarketDataUnavailable",
    "NoCandles",
    "PredictionCache",
    "ProviderState",
    "build_forecaster",
    "candles_key",
    "feature_window",
    "follow_champions",
    "frame_bytes",
    "frame_from_bytes",
    "in_sample",
    "is_fresh",
    "make_forecast",
    "mark_key",
    "model_references",
    "persist_forecast",
    "pin_labels",
    "pinned_release",
    "prediction_key",
    "rank",
    "rank_as_of",
    "ranking_table",
    "reads",
    "steps_until",
    "universe_key",
]
