"""The serving objects of one API worker, built once from settings: the models, the guarded
Redis and PostgreSQL, fresh candles, the prediction and feature caches, the forecaster."""

from __future__ import annotations

import logging

from candlecast.marketdata import get_provider
from candlecast.modeling import NoChampion, load_model, pinned_reference, serving_reference
from candlecast.ohlcv import open_store
from candlecast.ops import ConnectionPool, GuardedRedis, serving_redis_client
from candlecast.serving.forecaster import Forecaster
from candlecast.serving.fresh_candles import FreshCandles
from candlecast.serving.loaded_model import LoadedModel
from candlecast.serving.pinned import PinnedRelease
from candlecast.serving.prediction_cache import PredictionCache
from candlecast.serving.shared_inputs import SharedInputCache
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES

log = logging.getLogger(__name__)


def model_references(settings: Settings, release: PinnedRelease | None = None) -> dict:
    """Each timeframe's model in the store, by reference (what a Bento declares it serves):
    the versions a pinned Bento carries, otherwise each timeframe's champion."""
    if release is not None:
        return {code: pinned_reference(settings, tag) for code, tag in release.models.items()}
    references, missing = {}, []
    for code, timeframe in TIMEFRAMES.items():
        try:
            references[code] = serving_reference(settings, timeframe)
        except NoChampion as error:
            missing.append(error)
    if not references:
        raise missing[0]
    for error in missing:  # answered 503 until a version is trained (the watcher loads it)
        log.warning("serving without it: %s", error)
    return references


def build_forecaster(
    settings: Settings, references: dict, release: PinnedRelease | None = None
) -> Forecaster:
    provider_settings = settings.model_copy(
        update={
            "polygon_max_retries": settings.candlecast_api_provider_max_retries,
            "polygon_timeout_seconds": settings.candlecast_api_provider_timeout_seconds,
            # a forecast never waits out a provider's rate-limit window
            "polygon_rate_limit_patience_seconds": 0.0,
        }
    )
    redis = GuardedRedis(serving_redis_client(settings))
    fresh_candles = FreshCandles(
        get_provider(provider_settings),
        redis,
        settings.candlecast_candle_cache_keep_seconds,
        settings.candlecast_candle_cache_ttl_seconds,
        open_store(settings.store_location),
    )
    return Forecaster(
        {
            code: LoadedModel(str(ref.tag), load_model(ref), settings.candlecast_rank_fee)
            for code, ref in references.items()
        },
        fresh_candles,
        ConnectionPool(settings),
        PredictionCache(redis, settings.candlecast_prediction_cache_seconds),
        SharedInputCache(redis, settings.candlecast_feature_cache_entries),
        settings.candlecast_shadow_fraction,
        pinned_bento=None if release is None else release.bento,
        universe_size=settings.candlecast_top_n,
        rank_fee=settings.candlecast_rank_fee,
    )
