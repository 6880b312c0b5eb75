"""candlecast forecasts over HTTP. Thin: every method calls one function of include/candlecast."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from functools import partial
from pathlib import Path

import bentoml
from fastapi import FastAPI
from starlette.responses import JSONResponse, Response

from candlecast.api import (
    UNAVAILABLE_HEADERS,
    AccessMiddleware,
    AccuracyReport,
    AccuracyRequest,
    ApiDocs,
    CandleSeries,
    CandlesRequest,
    ConnectionSpread,
    Forecast,
    Health,
    HealthRoute,
    KeysInHeaders,
    ModelList,
    ModelsRequest,
    PredictionGetRequest,
    PredictionLatestRequest,
    PredictRequest,
    Ranking,
    RankRequest,
    RequestContract,
    SymbolSearchRequest,
    SymbolSearchResult,
    answers_errors,
    redact_keys_in_logs,
)
from candlecast.modeling import pull_models, pull_version
from candlecast.serving import (
    AsOfForecasts,
    LivePredict,
    LoopAnswers,
    build_forecaster,
    follow_champions,
    model_references,
    pinned_release,
    rank_as_of,
    reads,
)
from candlecast.serving import (
    rank as rank_coins,
)
from candlecast.settings import Settings
from candlecast.timeframes import TIMEFRAMES

settings = Settings()
redact_keys_in_logs("bentoml")  # BentoML configured this worker's logging before this import
release = pinned_release(Path(__file__))  # served from a pinned Bento: its versions, never swapped
# CANDLECAST_STORE_URL set: the champions (or the pinned versions) from the object store
pull_models(settings, release.models.values() if release else None)
loop_answers = LoopAnswers(settings)  # this worker's forecaster, once built, for LivePredict
health_app = FastAPI(title="candlecast health", docs_url=None, redoc_url=None, openapi_url=None)


@bentoml.asgi_app(health_app, path="/")
@bentoml.service(
    name="candlecast",
    workers=settings.candlecast_api_workers,
    threads=settings.candlecast_api_threads,
    traffic={"timeout": 60},
    logging={"access": {"enabled": settings.candlecast_access_log}},
)
class Candlecast:
    """Crypto OHLC forecasts on fresh candles. Errors are JSON `{"error": ..., "field": ...}`;
    the OpenAPI document and docs page are candlecast.api.openapi's."""

    models = model_references(settings, release)

    def __init__(self) -> None:
        self.forecaster = build_forecaster(settings, self.models, release)
        loop_answers.serve(self.forecaster)
        self.as_of = AsOfForecasts(self.forecaster)  # answers as of a past time, never stored
        self.champions = follow_champions(
            self.forecaster,
            settings.candlecast_release_poll_seconds,
            fetch=partial(pull_version, settings),  # a no-op without CANDLECAST_STORE_URL
        )

    @bentoml.api(route="/predict", input_spec=PredictRequest)
    @answers_errors
    def predict(
        self,
        symbol: str,
        timeframe: str,
        steps: int | None,
        predict_until: datetime | None,
        as_of: datetime | None,
    ) -> Forecast:
        """A forecast of the next candles (30 by default) with 80 % intervals; with `as_of`, the
        forecast it would have given then, each step beside what followed."""
        if as_of is not None:
            return self.as_of.predict(symbol, TIMEFRAMES[timeframe], steps, predict_until, as_of)
        body = self.forecaster.predict_json(symbol, TIMEFRAMES[timeframe], steps, predict_until)
        return Response(body, media_type="application/json")  # a Forecast's JSON

    @bentoml.api(route="/rank", input_spec=RankRequest)
    @answers_errors
    def rank(
        self, timeframe: str, horizon: int, symbols: list[str] | None, as_of: datetime | None
    ) -> Ranking:
        """The coins ordered by predicted return relative to the served universe at one horizon,
        with percentile and p_outperform; coins that cannot be forecast listed apart. With
        `as_of`, the ranking it would have given then, each coin beside its realised return."""
        if as_of is not None:
            return rank_as_of(self.as_of, TIMEFRAMES[timeframe], horizon, symbols, as_of)
        return rank_coins(self.forecaster, TIMEFRAMES[timeframe], horizon, symbols)

    @bentoml.api(route="/symbols/search", input_spec=SymbolSearchRequest)
    @answers_errors
    def symbols_search(self, query: str, limit: int) -> SymbolSearchResult:
        """Typeahead: active symbols first, then by USD volume."""
        return reads.symbol_search(self.forecaster, query, limit)

    @bentoml.api(route="/candles", input_spec=CandlesRequest)
    @answers_errors
    def candles(self, symbol: str, timeframe: str, limit: int) -> CandleSeries:
        """The newest closed candles, from the same fresh-candle path as /predict."""
        return reads.candle_series(self.forecaster, symbol, TIMEFRAMES[timeframe], limit)

    @bentoml.api(route="/models", input_spec=ModelsRequest)
    @answers_errors
    def serving_models(self) -> ModelList:
        """The champion served per timeframe with the headline metrics recorded at training, its
        gate, and the newest challenger with its gate figures; `pinned` and `bento` when served
        from a pinned Bento (its versions, whatever is promoted later)."""
        return reads.model_list(self.forecaster)

    @bentoml.api(route="/predictions/get", input_spec=PredictionGetRequest)
    @answers_errors
    def predictions_get(self, prediction_id: uuid.UUID) -> Forecast:
        """A stored forecast by its prediction_id, with its steps."""
        return reads.prediction_by_id(self.forecaster, str(prediction_id))

    @bentoml.api(route="/predictions/latest", input_spec=PredictionLatestRequest)
    @answers_errors
    def predictions_latest(self, symbol: str, timeframe: str) -> Forecast:
        """The newest stored forecast of a symbol and timeframe."""
        return reads.latest_prediction(self.forecaster, symbol, timeframe)

    @bentoml.api(route="/accuracy", input_spec=AccuracyRequest)
    @answers_errors
    def accuracy(
        self,
        timeframe: str | None,
        model: str | None,
        horizon: str | None,
        start: date | None,
        end: date | None,
        window_days: int,
    ) -> AccuracyReport:
        """Live accuracy per timeframe, model version, horizon and day (trailing window), with
        intervals and the version's test-window figures, as scored by `score_outcomes` (no rows,
        with a note, until then)."""
        given = {"timeframe": timeframe, "model": model, "horizon": horizon, "start": start}
        given |= {"end": end, "window_days": window_days}
        # Left-out filters arrive as None; the strict request model takes them as absent.
        filters = AccuracyRequest(**{k: v for k, v in given.items() if v is not None})
        return reads.live_accuracy(self.forecaster, filters)

    @health_app.get("/healthz", response_model=Health, tags=["Infrastructure"])
    def healthz(self):
        """PostgreSQL, Redis, models and provider: ok, degraded or down (503 when down)."""
        health = reads.health(self.forecaster, settings.candlecast_require_api_key)
        if health.status == "down":
            return JSONResponse(health.model_dump(mode="json"), 503, UNAVAILABLE_HEADERS)
        return JSONResponse(health.model_dump(mode="json"))


Candlecast.add_asgi_middleware(KeysInHeaders)  # a key in a URL: 400, before anything reads it
Candlecast.add_asgi_middleware(RequestContract)  # every 400 in our error body (a key in a body too)
Candlecast.add_asgi_middleware(AccessMiddleware)  # ahead of /healthz, which may want a key
Candlecast.add_asgi_middleware(HealthRoute, health_app=health_app)
Candlecast.add_asgi_middleware(ApiDocs, require_key=settings.candlecast_require_api_key)
Candlecast.add_asgi_middleware(ConnectionSpread)  # keep-alive connections over the workers
# Starlette wraps the first added outermost: a live /predict answered ahead of BentoML's route
# (serving.loop_answers: cached on the event loop, computed on the worker's threads) is checked,
# keyed, limited and spread like any request above.
Candlecast.add_asgi_middleware(
    LivePredict, answers=loop_answers, headers={"server": f"BentoML Service/{Candlecast.name}"}
)
