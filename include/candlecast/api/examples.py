"""Examples for the API's OpenAPI document (Swagger UI fills requests and shows answers with
them). BentoML writes OpenAPI 3.0, where Swagger UI reads a schema's `example`, not the JSON
Schema `examples` list, so fields carry both. A unit test validates every example against its
model."""

from __future__ import annotations

MODEL_TAG = "candlecast-1d:ylq3kqxb2gvmkaav"
PREDICTION_ID = "0b8f8a4e-1f3c-4d7e-9a52-3f1d2c4b5a6e"


def example(value) -> dict:
    """Field keyword arguments giving one example in both spellings."""
    return {"examples": [value], "json_schema_extra": {"example": value}}


def schema_example(value: dict) -> dict:
    """A model_config entry giving the whole model an example."""
    return {"json_schema_extra": {"example": value}}


FORECAST_STEP = {
    "step": 1,
    "timestamp": "2025-09-20T00:00:00Z",
    "open": 115688.2,
    "high": 116910.5,
    "low": 114402.7,
    "close": 115701.9,
    "close_low_80": 113420.6,
    "close_high_80": 117962.4,
    "direction": "up",
    "confidence": 0.53,
    "skill": "validated",
    "relative_skill": "validated",
    "relative_z": 0.41,
    "percentile": 83.5,
    "p_outperform": 0.54,
    "actual": None,
    "hit": None,
    "inside_80": None,
}

HORIZON_EVIDENCE = {
    "horizon": 1,
    "skill": "validated",
    "relative_skill": "validated",
    "signal": "ensemble",
    "rank_ic": 0.052,
    "rank_ic_low": 0.021,
    "rank_ic_high": 0.083,
    "rank_ic_halves": [0.061, 0.043],
    "best_naive_ranker": "reversal 1",
    "best_naive_ranker_ic": 0.038,
    "direction_accuracy": 0.526,
    "best_naive_rule": "reversal",
    "best_naive_accuracy": 0.514,
    "test_rank_ic": 0.047,
    "test_best_naive_ranker_ic": 0.031,
    "test_below_zero": False,
    "n": 24500,
    "rank_fee": 0.001,
    "test_spread": 0.0061,
    "test_spread_net": 0.0021,
    "test_best_naive_ranker_spread": 0.0043,
    "test_best_naive_ranker_spread_net": 0.0003,
    "test_p_outperform_ece": 0.006,
}

FORECAST = {
    "prediction_id": PREDICTION_ID,
    "symbol": "X:BTCUSDT",
    "timeframe": "1d",
    "model": MODEL_TAG,
    "model_name": "candlecast-1d",
    "model_version": MODEL_TAG.split(":")[1],
    "generated_at": "2025-09-20T00:04:12Z",
    "last_candle_at": "2025-09-19T00:00:00Z",
    "last_close": 115688.2,
    "data_age_seconds": 252.0,
    "stale": False,
    "direction": "up",
    "confidence": 0.53,
    "mean_confidence": 0.53,
    "indicators": {"vol_24": 0.021, "rsi_14": 47.2, "ret_1": -0.0061},
    "persisted": True,
    "cached": False,
    "skill": [HORIZON_EVIDENCE],
    "universe_size": 480,
    "as_of": None,
    "model_chosen": None,
    "steps": [FORECAST_STEP],
}

RANKING = {
    "ranking_id": PREDICTION_ID,
    "timeframe": "1d",
    "horizon": 1,
    "model": MODEL_TAG,
    "model_name": "candlecast-1d",
    "model_version": MODEL_TAG.split(":")[1],
    "generated_at": "2025-09-20T00:04:10Z",
    "last_candle_at": "2025-09-19T00:00:00Z",
    "target_at": "2025-09-20T00:00:00Z",
    "data_age_seconds": 252.0,
    "stale": False,
    "universe_size": 480,
    "relative_skill": "validated",
    "evidence": HORIZON_EVIDENCE,
    "cached": True,
    "coins": [
        {
            "rank": 1,
            "symbol": "X:SOLUSDT",
            "relative_z": 0.93,
            "percentile": 99.9,
            "p_outperform": 0.58,
            "last_close": 242.1,
            "in_universe": True,
            "realised_return": None,
        }
    ],
    "unranked": [
        {
            "symbol": "X:NEWUSDT",
            "reason": "too_little_history",
            "detail": "X:NEWUSDT has 20 closed 1d candles; the features need at least 40",
        }
    ],
    "as_of": None,
    "model_chosen": None,
    "universe_chosen": None,
}

SYMBOL_SEARCH = {
    "query": "btc",
    "matches": [
        {
            "ticker": "X:BTCUSDT",
            "name": "Bitcoin - Tether",
            "base": "BTC",
            "quote": "USDT",
            "active": True,
            "usd_volume_24h": 1.52e9,
            "volume_rank": 1,
        }
    ],
}

CANDLE = {
    "timestamp": "2025-09-19T00:00:00Z",
    "open": 117073.5,
    "high": 117459.9,
    "low": 115130.0,
    "close": 115688.2,
    "volume": 11482.6,
}

CANDLE_SERIES = {
    "symbol": "X:BTCUSDT",
    "timeframe": "1d",
    "last_candle_at": "2025-09-19T00:00:00Z",
    "data_age_seconds": 252.0,
    "stale": False,
    "candles": [CANDLE],
}

MODEL_LIST = {
    "models": [
        {
            "timeframe": "1d",
            "model": MODEL_TAG,
            "model_name": "candlecast-1d",
            "model_version": MODEL_TAG.split(":")[1],
            "trained_at": "2025-09-20T01:12:40Z",
            "algorithm": "xgboost",
            "n_symbols": 5,
            "headline": {"h1": {"direction_accuracy": 0.52, "mae_ratio_to_random_walk": 1.0}},
            "skill": [HORIZON_EVIDENCE],
        }
    ],
    "pinned": False,
    "bento": None,
}

ACCURACY_REPORT = {
    "as_of": "2025-09-20T00:05:00Z",
    "rows": [
        {
            "timeframe": "1d",
            "model": MODEL_TAG,
            "horizon": "all",
            "day": "2025-09-19",
            "window_days": 7,
            "predictions": 41,
            "n": 820,
            "coins": 5,
            "direction_accuracy": 0.51,
            "direction_accuracy_ci95": [0.46, 0.56],
            "mae_ratio_to_random_walk": 1.01,
            "mae_ratio_ci95": [0.97, 1.05],
            "interval_80_coverage": 0.78,
            "interval_80_coverage_ci95": [0.71, 0.84],
            "ece": 0.04,
            "rank_ic": 0.02,
            "test": {"direction_accuracy": 0.52, "mae_ratio_to_random_walk": 0.99},
        }
    ],
    "note": "",
}

HEALTH = {
    "status": "degraded",
    "access": "keys",
    "postgres": {"status": "ok", "detail": ""},
    "redis": {"status": "down", "detail": "candles come from the provider on every call"},
    "models": {"status": "ok", "detail": f"1d={MODEL_TAG}"},
    "provider": {"status": "ok", "detail": ""},
}
