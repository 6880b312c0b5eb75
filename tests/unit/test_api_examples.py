"""The examples the OpenAPI document shows are valid bodies of their models."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from candlecast.api import Forecast, Ranking, RankRequest
from candlecast.api import requests as api_requests
from candlecast.api import schemas as api_schemas

DOCUMENTED = [
    api_requests.PredictRequest,
    api_requests.SymbolSearchRequest,
    api_requests.CandlesRequest,
    api_requests.PredictionGetRequest,
    api_requests.PredictionLatestRequest,
    api_requests.AccuracyRequest,
    RankRequest,
    Forecast,
    Ranking,
    api_schemas.SymbolSearchResult,
    api_schemas.CandleSeries,
    api_schemas.ModelList,
    api_schemas.AccuracyReport,
    api_schemas.Health,
]


@pytest.mark.parametrize("model", DOCUMENTED, ids=lambda m: m.__name__)
def test_every_documented_model_has_an_example_that_validates(model: type[BaseModel]):
    example = model.model_json_schema()["example"]
    parsed = model.model_validate_json(json.dumps(example))  # as it comes over the wire
    assert set(example) <= set(parsed.model_dump())


def test_field_examples_are_written_both_ways_for_openapi_3_0():
    symbol = api_requests.PredictRequest.model_json_schema()["properties"]["symbol"]
    assert symbol["example"] == "X:BTCUSDT" and symbol["examples"] == ["X:BTCUSDT"]


def test_the_predict_example_asks_for_steps_or_a_time_not_both():
    example = api_requests.PredictRequest.model_json_schema()["example"]
    assert ("steps" in example) != ("predict_until" in example)


def test_request_validation_names_the_field():
    with pytest.raises(ValueError, match="timeframe"):
        api_requests.CandlesRequest(symbol="X:BTCUSDT", timeframe="5m")
    with pytest.raises(ValueError, match="symbol"):
        api_requests.PredictRequest(symbol="not a ticker!", timeframe="1d")
