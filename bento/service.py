"""candlecast forecasts over HTTP. Thin: every decision lives in include/candlecast."""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import datetime

import bentoml
from fastapi import FastAPI
from starlette.responses import JSONResponse

from candlecast.api import (
    AccuracyReport,
    AccuracyRequest,
    ApiError,
    CandleSeries,
    CandlesRequest,
    Forecast,
    Health,
    ModelList,
    PredictionGetRequest,
    PredictionLatestRequest,
    PredictRequest,
    SymbolSearchRequest,
    SymbolSearchResult,
)
from candlecast.ops import DatabaseUnavailable
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES

log = logging.getLogger("candlecast.api")
settings = Settings()


def _serving_references() -> dict:
    from candlecast.modeling import serving_reference

    return {code: serving_reference(settings, tf) for code, tf in TIMEFRAMES.items()}


def answers_errors(method):
    """Domain errors become their JSON 4xx/503 (BentoML would hide a 503's message)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except DatabaseUnavailable as error:
            log.error("%s: %s", method.__name__, error)
            return JSONResponse({"error": "database unavailable"}, status_code=503)
        except ApiError as error:
            return JSONResponse(error.body(), status_code=error.status)

    return wrapper


health_app = FastAPI(title="candlecast health", docs_url=None, redoc_url=None, openapi_url=None)


@bentoml.asgi_app(health_app, path="/")
@bentoml.service(
    name="candlecast",
    workers=settings.candlecast_api_workers,
    threads=settings.candlecast_api_threads,
    traffic={"timeout": 60},
)
class Candlecast:
    """Crypto OHLC forecasts on fresh candles. Errors are JSON `{"error": ..., "field": ...}`."""

    models = _serving_references()

    def __init__(self) -> None:
        from candlecast.marketdata import get_provider
        from candlecast.modeling import load_model
        from candlecast.ops import ConnectionPool, GuardedRedis, serving_redis_client
        from candlecast.serving import (
            Forecaster,
            FreshCandles,
            InputCache,
            PredictionCache,
            ServedModel,
        )

        provider_settings = settings.model_copy(
            update={
                "polygon_max_retries": settings.candlecast_api_provider_max_retries,
                "polygon_timeout_seconds": settings.candlecast_api_provider_timeout_seconds,
            }
        )
        self.redis = GuardedRedis(serving_redis_client(settings))
        self.pool = ConnectionPool(settings)
        self.fresh_candles = FreshCandles(
            get_provider(provider_settings),
            self.redis,
            settings.candlecast_candle_cache_keep_seconds,
            settings.candlecast_candle_cache_ttl_seconds,
        )
        self.forecaster = Forecaster(
            {code: ServedModel(str(ref.tag), load_model(ref)) for code, ref in self.models.items()},
            self.fresh_candles,
            self.pool,
            PredictionCache(self.redis, settings.candlecast_prediction_cache_seconds),
            InputCache(settings.candlecast_feature_cache_entries),
        )

    @bentoml.api(route="/predict", input_spec=PredictRequest)
    @answers_errors
    def predict(
        self, symbol: str, timeframe: str, steps: int | None, predict_until: datetime | None
    ) -> Forecast:
        """A forecast of the next candles (30 by default) with 80 % intervals."""
        return self.forecaster.predict(symbol, TIMEFRAMES[timeframe], steps, predict_until)

    @bentoml.api(route="/symbols/search", input_spec=SymbolSearchRequest)
    @answers_errors
    def symbols_search(self, query: str, limit: int) -> SymbolSearchResult:
        """Typeahead: active symbols first, then by USD volume."""
        from candlecast.api import search_symbols

        with self.pool.connection() as conn:
            return SymbolSearchResult(query=query, matches=search_symbols(conn, query, limit))

    @bentoml.api(route="/candles", input_spec=CandlesRequest)
    @answers_errors
    def candles(self, symbol: str, timeframe: str, limit: int) -> CandleSeries:
        """The newest closed candles, from the same fresh-candle path as /predict."""
        from candlecast.api import Candle

        tf = TIMEFRAMES[timeframe]
        window = self.forecaster.window(symbol, tf, self.forecaster.symbol_id(symbol) is not None)
        frame = window.frame.iloc[-limit:]
        return CandleSeries(
            symbol=symbol,
            timeframe=tf.code,
            last_candle_at=window.last_candle_at,
            data_age_seconds=window.data_age_seconds,
            stale=window.stale,
            candles=[Candle(**row) for row in frame.to_dict("records")],
        )

    @bentoml.api(route="/models")
    @answers_errors
    def serving_models(self) -> ModelList:
        """The version served per timeframe, with the headline metrics recorded at training."""
        from candlecast.api import ServingModel, headline_metrics, model_rows

        tags = {code: served.tag for code, served in self.forecaster.models.items()}
        try:
            with self.pool.connection() as conn:
                rows = model_rows(conn, list(tags.values()))
        except DatabaseUnavailable:
            rows = {}
        models = []
        for code, tag in tags.items():
            row = rows.get(tag, {})
            name, _, version = tag.partition(":")
            models.append(
                ServingModel(
                    timeframe=code,
                    model=tag,
                    model_name=name,
                    model_version=version,
                    trained_at=row.get("trained_at"),
                    algorithm=row.get("algorithm"),
                    n_symbols=row.get("n_symbols"),
                    headline=headline_metrics(row.get("metrics") or {}),
                )
            )
        return ModelList(models=models)

    @bentoml.api(route="/predictions/get", input_spec=PredictionGetRequest)
    @answers_errors
    def predictions_get(self, prediction_id: uuid.UUID) -> Forecast:
        """A stored forecast by its prediction_id, with its steps."""
        from candlecast.api import stored_forecast

        with self.pool.connection() as conn:
            return stored_forecast(conn, str(prediction_id))

    @bentoml.api(route="/predictions/latest", input_spec=PredictionLatestRequest)
    @answers_errors
    def predictions_latest(self, symbol: str, timeframe: str) -> Forecast:
        """The newest stored forecast of a symbol and timeframe."""
        from candlecast.api import latest_forecast

        with self.pool.connection() as conn:
            return latest_forecast(conn, symbol, timeframe)

    @bentoml.api(route="/accuracy", input_spec=AccuracyRequest)
    @answers_errors
    def accuracy(self, timeframe: str | None) -> AccuracyReport:
        """Live accuracy per timeframe and model version, from stored forecasts whose target
        candles have closed (n=0 with a note until then)."""
        from candlecast.serving import ActualCloses, accuracy_report

        closes = ActualCloses(settings.store_dir, self.redis)
        with self.pool.connection() as conn:
            return accuracy_report(conn, closes, self.fresh_candles.provider.now(), timeframe)

    @health_app.get("/healthz", response_model=Health, tags=["Infrastructure"])
    def healthz(self):
        """PostgreSQL, Redis, models and provider: ok, degraded or down (503 when down)."""
        from candlecast.serving import check_health

        tags = {code: served.tag for code, served in self.forecaster.models.items()}
        health = check_health(self.pool, self.redis, self.fresh_candles.state, tags)
        status = 503 if health.status == "down" else 200
        return JSONResponse(health.model_dump(mode="json"), status_code=status)


class HealthRoute:
    """BentoML answers GET /healthz itself (as /livez); ours, with the dependencies, wins."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] == "GET":
            await health_app(scope, receive, send)
        else:
            await self.app(scope, receive, send)


Candlecast.add_asgi_middleware(HealthRoute)

from candlecast.api import AccessMiddleware  # noqa: E402

Candlecast.add_asgi_middleware(AccessMiddleware)
