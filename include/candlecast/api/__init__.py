"""The prediction API's wire, independent of BentoML and of serving.

    `requests`         request bodies, as strict as their schemas
    `schemas`          response bodies, the forecast included
    `ranking_schemas`  POST /rank's body and answer, the rankings' live figures
    `evidence`         a horizon's claims and the figures behind them
    `accuracy`         live accuracy read from the monitoring tables
    `examples`         the OpenAPI examples
    `errors`           the error body and the errors the API answers with
    `body_validation`  request bodies checked at the door, before BentoML
    `openapi`          BentoML's OpenAPI document rewritten as candlecast's
    `docs_page`        the docs page and `/docs.json`
    `asgi_answers`     answers sent straight from the middleware
    `queries`          the API's reads from PostgreSQL
    `keys`             API keys: created, listed, revoked, verified
    `credentials`      keys in headers only, masked in logs
    `key_limits`       the per-key rate limit (token buckets in Redis)
    `middleware`       keys and limits in front of every endpoint

May import: `candlecast.ops`, `candlecast.settings`, `candlecast.timeframes`. The schemas describe
the wire and never reach into `candlecast.serving` (an import contract says so).
"""

from candlecast.api.accuracy import NO_OUTCOMES, accuracy_from_tables
from candlecast.api.body_validation import REQUEST_MODELS, RequestContract, body_problems, is_json
from candlecast.api.credentials import key_in_body, key_in_query, redact, redact_keys_in_logs
from candlecast.api.docs_page import ApiDocs
from candlecast.api.errors import (
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_HEADERS,
    ApiError,
    BadInput,
    ErrorBody,
    NotFound,
    Unavailable,
    Unprocessable,
    answers_errors,
    error_response,
    validation_error_body,
)
from candlecast.api.key_limits import AsyncTokenBucket, TokenBucket, bucket_key, lease_size
from candlecast.api.keys import KeyRing, KeyStoreUnavailable
from candlecast.api.middleware import (
    AccessMiddleware,
    ConnectionSpread,
    HealthRoute,
    KeysInHeaders,
)
from candlecast.api.openapi import candlecast_openapi
from candlecast.api.queries import (
    close_matches,
    find_symbol,
    headline_metrics,
    latest_forecast,
    model_rows,
    search_symbols,
    skill_evidence,
    stored_forecast,
    universe_at,
    universe_tickers,
)
from candlecast.api.ranking_schemas import (
    RankedCoin,
    Ranking,
    RankRequest,
    UnrankedCoin,
)
from candlecast.api.requests import (
    AccuracyRequest,
    CandlesRequest,
    ModelsRequest,
    PredictionGetRequest,
    PredictionLatestRequest,
    PredictRequest,
    SymbolSearchRequest,
    normalise_ticker,
)
from candlecast.api.schemas import (
    AccuracyReport,
    Candle,
    CandleSeries,
    Challenger,
    ComponentHealth,
    Forecast,
    ForecastStep,
    Health,
    HorizonEvidence,
    ModelList,
    ServingModel,
    SymbolSearchResult,
)

__all__ = [
    "NO_OUTCOMES",
    "REQUEST_MODELS",
    "RETRY_AFTER_SECONDS",
    "UNAVAILABLE_HEADERS",
    "AccessMiddleware",
    "AccuracyReport",
    "AccuracyRequest",
    "ApiDocs",
    "ApiError",
    "AsyncTokenBucket",
    "BadInput",
    "Candle",
    "CandleSeries",
    "CandlesRequest",
    "Challenger",
    "ComponentHealth",
    "ConnectionSpread",
    "ErrorBody",
    "Forecast",
    "ForecastStep",
    "Health",
    "HealthRoute",
    "HorizonEvidence",
    "KeyRing",
    "KeyStoreUnavailable",
    "KeysInHeaders",
    "ModelList",
    "ModelsRequest",
    "NotFound",
    "PredictRequest",
    "PredictionGetRequest",
    "PredictionLatestRequest",
    "RankRequest",
    "RankedCoin",
    "Ranking",
    "RequestContract",
    "ServingModel",
    "SymbolSearchRequest",
    "SymbolSearchResult",
    "TokenBucket",
    "Unavailable",
    "Unprocessable",
    "UnrankedCoin",
    "accuracy_from_tables",
    "answers_errors",
    "error_response",
    "body_problems",
    "bucket_key",
    "candlecast_openapi",
    "close_matches",
    "find_symbol",
    "headline_metrics",
    "is_json",
    "key_in_body",
    "key_in_query",
    "latest_forecast",
    "lease_size",
    "model_rows",
    "normalise_ticker",
    "redact",
    "redact_keys_in_logs",
    "search_symbols",
    "skill_evidence",
    "stored_forecast",
    "universe_at",
    "universe_tickers",
    "validation_error_body",
]
