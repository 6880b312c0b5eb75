"""Response bodies of the prediction API, the forecast included."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from candlecast.api import examples as api_examples

Status = Literal["ok", "degraded", "down"]


class SymbolMatch(BaseModel):
    ticker: str
    name: str
    base: str
    quote: str
    active: bool
    usd_volume_24h: float | None
    volume_rank: int | None


class SymbolSearchResult(BaseModel):
    model_config = ConfigDict(**api_examples.schema_example(api_examples.SYMBOL_SEARCH))

    query: str
    matches: list[SymbolMatch]


class Candle(BaseModel):
    timestamp: datetime = Field(description="Open time (UTC).")
    open: float
    high: float
    low: float
    close: float
    volume: float


class CandleSeries(BaseModel):
    model_config = ConfigDict(**api_examples.schema_example(api_examples.CANDLE_SERIES))

    symbol: str
    timeframe: str
    last_candle_at: datetime
    data_age_seconds: float
    stale: bool
    candles: list[Candle]


class ServingModel(BaseModel):
    timeframe: str
    model: str = Field(description="BentoML tag, name:version.")
    model_name: str
    model_version: str
    trained_at: datetime | None = None
    algorithm: str | None = None
    n_symbols: int | None = None
    headline: dict = Field(
        default_factory=dict,
        description="Headline test metrics (direction accuracy, MAE ratio to a random walk at "
        "h1/h6/h30) as recorded with the model; empty when not recorded or PostgreSQL is down.",
    )


class ModelList(BaseModel):
    model_config = ConfigDict(**api_examples.schema_example(api_examples.MODEL_LIST))

    models: list[ServingModel]


class AccuracyRow(BaseModel):
    timeframe: str
    model: str
    predictions: int = Field(description="Stored predictions with at least one closed target.")
    n: int = Field(description="Forecast steps whose target candle has closed and is known.")
    direction_accuracy: float | None
    mae_ratio_to_random_walk: float | None
    interval_80_coverage: float | None


class AccuracyReport(BaseModel):
    model_config = ConfigDict(**api_examples.schema_example(api_examples.ACCURACY_REPORT))

    as_of: datetime
    rows: list[AccuracyRow]
    note: str = ""


class ComponentHealth(BaseModel):
    status: Status
    detail: str = ""


class Health(BaseModel):
    model_config = ConfigDict(**api_examples.schema_example(api_examples.HEALTH))

    status: Status
    access: Literal["open", "keys", "unknown"] = Field(
        description="open: no API key exists, requests need none; keys: a key is required."
    )
    postgres: ComponentHealth
    redis: ComponentHealth
    models: ComponentHealth
    provider: ComponentHealth


class ForecastStep(BaseModel):
    step: int
    timestamp: datetime
    open: float
    high: float
    low: float
    close: float
    close_low_80: float
    close_high_80: float
    direction: Literal["up", "down"]
    confidence: float


class Forecast(BaseModel):
    """A served forecast, as the API returns it and as it is stored."""

    model_config = ConfigDict(**api_examples.schema_example(api_examples.FORECAST))

    prediction_id: str
    symbol: str
    timeframe: str
    model: str = Field(description="The model's BentoML tag, name:version.")
    model_name: str
    model_version: str
    generated_at: datetime
    last_candle_at: datetime = Field(description="Open time of the newest candle used.")
    last_close: float
    data_age_seconds: float = Field(description="Seconds since the newest candle used closed.")
    stale: bool = Field(
        description="True when the candles used are older than the last closed candle "
        "(the provider could not be reached or has nothing newer)."
    )
    direction: Literal["up", "down"] = Field(description="Direction at the last step.")
    confidence: float = Field(description="Direction confidence at the last step.")
    mean_confidence: float
    indicators: dict[str, float | None] = Field(
        description="The features that drive the model most, at the newest candle."
    )
    persisted: bool = Field(description="False when the forecast could not be stored.")
    cached: bool = Field(default=False, description="Served from the prediction cache.")
    steps: list[ForecastStep]
