"""The request bodies' contract without a server: what the schemas say is what the validators
accept, and a refused body is our error body."""

from __future__ import annotations

import json
import re

import pytest

from candlecast.api import (
    REQUEST_MODELS,
    ErrorBody,
    PredictRequest,
    RankRequest,
    body_problems,
    candlecast_openapi,
    validation_error_body,
)
from candlecast.api.openapi import ERROR_EXAMPLES, ERRORS
from candlecast.api.requests import SYMBOL_PATTERN, TIMEFRAME_PATTERN, normalise_ticker
from candlecast.timeframes import TimeframeError, parse_timeframe

SYMBOLS = ["X:BTCUSDT", "btcusdt", "x:ethusdt", " X:SOLUSDT ", "X:B", "BTC/USDT", "X:", "",
           "BTC USDT", "X:BTCUSDT\n", "\tBTCUSDT", "X:" + "A" * 31, "ÄBC", "X:BTCUSDT!"]  # fmt: skip
TIMEFRAMES = ["1h", "4h", "1d", "1w", "1M", "1mo", "1MO", "1Month", "1mon", "1m", "1H", "5m",
              "1d ", "1y", "", "1monthly"]  # fmt: skip


def schema_accepts(pattern: str, value: str) -> bool:
    return re.search(pattern.replace("$", r"\Z"), value) is not None  # JSON Schema's `$`


def validator_accepts(check, value: str) -> bool:
    try:
        check(value)
    except (ValueError, TimeframeError):
        return False
    return True


@pytest.mark.parametrize("value", SYMBOLS)
def test_the_symbol_pattern_is_what_the_validator_accepts(value):
    assert schema_accepts(SYMBOL_PATTERN, value) == validator_accepts(normalise_ticker, value)


@pytest.mark.parametrize("value", TIMEFRAMES)
def test_the_timeframe_pattern_is_what_the_parser_accepts(value):
    assert schema_accepts(TIMEFRAME_PATTERN, value) == validator_accepts(parse_timeframe, value)


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        (b'{"symbol": "X:BTCUSDT", "timeframe": "1d"', "body", "invalid json"),
        (b"[1, 2, 3]", "body", "object"),
        (b"null", "body", "object"),
        (b"", "symbol", "required"),  # no body reads as {}
        (b'{"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": "3"}', "steps", "integer"),
        (b'{"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 2.5}', "steps", "integer"),
        (b'{"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": null}', "steps", "integer"),
        (b'{"symbol": "X:BTCUSDT", "timeframe": "1d", "stpes": 3}', "stpes", "unknown field"),
        (b'{"symbol": "X:BTCUSDT", "timeframe": "1m"}', "timeframe", "ambiguous"),
        (b'{"timeframe": "1d"}', "symbol", "required"),
        (
            b'{"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 3, '
            b'"predict_until": "2025-10-01T00:00:00Z"}',
            "predict_until",
            "not both",
        ),
    ],
)
def test_a_refused_body_is_our_error_naming_the_field(body, field, needle):
    problems = body_problems(PredictRequest, body)
    assert problems is not None and problems["field"] == field
    assert needle in problems["error"].lower()
    assert problems["detail"][0]["field"] == field
    text = json.dumps(problems)
    assert "IODescriptor" not in text and "pydantic" not in text and "PredictRequest" not in text


def test_every_problem_is_listed_and_the_first_named():
    problems = body_problems(PredictRequest, b'{"symbol": 1, "steps": 99}')
    assert {p["field"] for p in problems["detail"]} == {"symbol", "timeframe", "steps"}
    assert problems["error"].startswith("symbol") and "2 more problems" in problems["error"]
    assert validation_error_body([])["field"] == "body"


@pytest.mark.parametrize("route", sorted(REQUEST_MODELS))
def test_each_operation_accepts_its_documented_example(route):
    model = REQUEST_MODELS[route]
    example = model.model_json_schema()["example"]
    assert body_problems(model, json.dumps(example).encode()) is None
    assert model.model_json_schema()["additionalProperties"] is False


def test_the_predict_schema_states_steps_xor_predict_until():
    generated = {"PredictRequestIODescriptor": PredictRequest.model_json_schema()}
    spec = candlecast_openapi({"paths": {}, "components": {"schemas": generated}})
    schema = spec["components"]["schemas"]["PredictRequest"]
    assert schema["not"] == {"required": ["steps", "predict_until"]}
    # symbol and timeframe, then as_of and one of steps or predict_until
    assert schema["maxProperties"] == 4 == len(schema["required"]) + 2
    assert "default" not in schema["properties"]["steps"]
    assert "default" not in schema["properties"]["as_of"]
    assert schema["properties"]["as_of"]["format"] == "date-time"
    assert body_problems(PredictRequest, b'{"symbol": "btcusdt", "timeframe": "1d"}') is None


def test_every_documented_error_example_is_an_error_body():
    for status, example in ERROR_EXAMPLES.items():
        assert ErrorBody.model_validate(example).error, status
        assert status in ERRORS


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        (b'{"timeframe": "1h", "horizon": 31}', "horizon", "less than or equal to 30"),
        (b'{"timeframe": "1h", "horizon": 0}', "horizon", "greater than or equal to 1"),
        (b'{"timeframe": "1h", "horizon": "6"}', "horizon", "integer"),
        (b'{"timeframe": "1h"}', "horizon", "required"),
        (b'{"timeframe": "1m", "horizon": 6}', "timeframe", "ambiguous"),
        (b'{"timeframe": "1h", "horizon": 6, "symbols": []}', "symbols", "at least 1"),
        (b'{"timeframe": "1h", "horizon": 6, "symbols": null}', "symbols", "array"),
        (b'{"timeframe": "1h", "horizon": 6, "symbols": ["BTC/USDT"]}', "symbols.0", "ticker"),
        (b'{"timeframe": "1h", "horizon": 6, "top": 5}', "top", "unknown field"),
    ],
)
def test_a_refused_rank_body_is_our_error_naming_the_field(body, field, needle):
    problems = body_problems(RankRequest, body)
    assert problems is not None and problems["field"] == field, problems
    assert needle in problems["error"].lower()
    assert "RankRequest" not in json.dumps(problems)


def test_a_rank_body_reads_symbols_as_the_api_does():
    request = RankRequest.model_validate_json(
        b'{"timeframe": "1mo", "horizon": 6, "symbols": ["btcusdt", "X:ETHUSDT"]}'
    )
    assert (request.timeframe, request.symbols) == ("1M", ["X:BTCUSDT", "X:ETHUSDT"])
    assert "default" not in RankRequest.model_json_schema()["properties"]["symbols"]
