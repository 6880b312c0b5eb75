"""Request bodies of the prediction API. Each carries a whole-body example, so Swagger UI's
"Try it out" sends a request that works (a sample built from every optional field would send
/predict both `steps` and `predict_until`, which it refuses)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from candlecast.api.examples import PREDICTION_ID, example, schema_example
from candlecast.timeframes import MAX_STEPS, parse_timeframe

TICKER_PATTERN = re.compile(r"^(X:)?[A-Z0-9]{2,30}$")


def normalise_ticker(value: str) -> str:
    """'btcusdt' and 'X:BTCUSDT' both name X:BTCUSDT; anything else is refused."""
    ticker = value.strip().upper()
    if not TICKER_PATTERN.match(ticker):
        raise ValueError(f"symbol {value!r} is not a ticker like 'X:BTCUSDT'")
    return ticker if ticker.startswith("X:") else f"X:{ticker}"


def _timeframe(value: str) -> str:
    return parse_timeframe(value).code  # raises a ValueError that names the problem


TimeframeCode = Annotated[
    str,
    Field(max_length=8, description="1h, 4h, 1d, 1w or 1M (also 1mo)", **example("1d")),
    AfterValidator(_timeframe),
]
Symbol = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        description="Provider ticker; the X: prefix and case are optional.",
        **example("X:BTCUSDT"),
    ),
    AfterValidator(normalise_ticker),
]


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        **schema_example({"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 30})
    )

    symbol: Symbol
    timeframe: TimeframeCode
    steps: Annotated[
        int | None, Field(ge=1, le=MAX_STEPS, description=f"1–{MAX_STEPS}; default {MAX_STEPS}.")
    ] = None
    predict_until: datetime | None = Field(
        default=None,
        description="Instead of steps: forecast up to the candle containing this time "
        f"(at most {MAX_STEPS} candles ahead).",
    )


class SymbolSearchRequest(BaseModel):
    model_config = ConfigDict(**schema_example({"query": "btc", "limit": 10}))

    query: Annotated[str, Field(min_length=1, max_length=40, description="Ticker or name")]
    limit: Annotated[int, Field(ge=1, le=50)] = 10


class CandlesRequest(BaseModel):
    model_config = ConfigDict(
        **schema_example({"symbol": "X:BTCUSDT", "timeframe": "1d", "limit": 100})
    )

    symbol: Symbol
    timeframe: TimeframeCode
    limit: Annotated[int, Field(ge=1, le=1000, description="Newest candles, at most 1000")] = 100


class PredictionGetRequest(BaseModel):
    model_config = ConfigDict(**schema_example({"prediction_id": PREDICTION_ID}))

    prediction_id: uuid.UUID


class PredictionLatestRequest(BaseModel):
    model_config = ConfigDict(**schema_example({"symbol": "X:BTCUSDT", "timeframe": "1d"}))

    symbol: Symbol
    timeframe: TimeframeCode


class AccuracyRequest(BaseModel):
    model_config = ConfigDict(
        **schema_example({"timeframe": "1d", "horizon": "all", "window_days": 7})
    )

    timeframe: TimeframeCode | None = Field(
        default=None, description="One timeframe, or every timeframe when absent."
    )
    model: str | None = Field(
        default=None,
        max_length=120,
        description="One model version (tag, e.g. candlecast-1d:20250919t230000z), or all.",
    )
    horizon: Literal["h1", "h6", "h30", "all"] | None = Field(
        default=None, description="One horizon bucket, or all four when absent."
    )
    start: date | None = Field(default=None, description="First day (UTC) of rows shown.")
    end: date | None = Field(
        default=None,
        description="Last day (UTC) of rows shown. Without start and end: each version's newest day.",
    )
    window_days: Literal[1, 7, 30] = Field(
        default=7, description="Trailing days of outcomes each row's figures cover."
    )

    @model_validator(mode="after")
    def _ordered(self) -> AccuracyRequest:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self
