"""The prediction API's wire: request bodies (`requests`), response bodies with the forecast
(`schemas`), live accuracy read from the monitoring tables (`accuracy`), their OpenAPI examples
(`examples`), the errors it answers with (`errors`), request bodies checked at the door
(`body_validation`), the OpenAPI document and docs page (`openapi`), its reads from PostgreSQL
(`queries`), API keys (`keys`), where keys may travel and never appear (`credentials`: headers
only, masked in logs), per-key token buckets (`key_limits`) and the ASGI middleware that puts keys
and limits in front of every endpoint (`middleware`).

May import: `candlecast.ops`, `candlecast.settings`, `candlecast.timeframes`. The schemas describe
the wire and never reach into `candlecast.serving` (an import contract says so).
"""

from candlecast.api.accuracy import NO_OUTCOMES, accuracy_from_tables
from candlecast.api.body_validation import REQUEST_MODELS, RequestContract, body_problems, is_json
from candlecast.api.credentials import key_in_body, key_in_query, redact, redact_keys_in_logs
from candlecast.api.docs_page import ApiDocs
from candlecast.api.errors import (
    ApiError,
    BadInput,
    ErrorBody,
    NotFound,
    Unavailable,
    Unprocessable,
    answers_errors,
    validation_error_body,
)
from candlecast.api.key_limits import (
    AsyncTokenBucket,
    Decision,
    TokenBucket,
    bucket_key,
    lease_size,
)
from candlecast.api.keys import (
    ApiKey,
    KeyRing,
    KeySet,
    KeyStoreUnavailable,
    active_keys,
    create_key,
    hash_key,
    list_keys,
    revoke_key,
)
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
    AccuracyRow,
    Candle,
    CandleSeries,
    Challenger,
    ComponentHealth,
    Forecast,
    ForecastStep,
    Health,
    HorizonEvidence,
    ModelList,
    RankingAccuracyRow,
    ServingModel,
    SymbolMatch,
    SymbolSearchResult,
)

__all__ = [
    "NO_OUTCOMES",
    "REQUEST_MODELS",
    "AccessMiddleware",
    "ConnectionSpread",
    "ApiDocs",
    "ErrorBody",
    "ModelsRequest",
    "RequestContract",
    "body_problems",
    "is_json",
    "candlecast_openapi",
    "validation_error_body",
    "AccuracyReport",
    "AccuracyRequest",
    "AccuracyRow",
    "ApiError",
    "ApiKey",
    "AsyncTokenBucket",
    "BadInput",
    "Candle",
    "CandleSeries",
    "CandlesRequest",
    "ComponentHealth",
    "Decision",
    "Forecast",
    "ForecastStep",
    "Health",
    "HealthRoute",
    "KeysInHeaders",
    "HorizonEvidence",
    "KeyRing",
    "KeySet",
    "KeyStoreUnavailable",
    "ModelList",
    "NotFound",
    "PredictRequest",
    "PredictionGetRequest",
    "PredictionLatestRequest",
    "Challenger",
    "ServingModel",
    "SymbolMatch",
    "SymbolSearchRequest",
    "SymbolSearchResult",
    "TokenBucket",
    "Unavailable",
    "Unprocessable",
    "active_keys",
    "accuracy_from_tables",
    "answers_errors",
    "bucket_key",
    "lease_size",
    "close_matches",
    "create_key",
    "find_symbol",
    "hash_key",
    "key_in_body",
    "key_in_query",
    "headline_metrics",
    "latest_forecast",
    "list_keys",
    "model_rows",
    "normalise_ticker",
    "redact",
    "redact_keys_in_logs",
    "revoke_key",
    "search_symbols",
    "skill_evidence",
    "stored_forecast",
    "universe_at",
    "universe_tickers",
    "RankedCoin",
    "RankingAccuracyRow",
    "Ranking",
    "RankRequest",
    "UnrankedCoin",
]
