"""Request bodies of the prediction API, as strict as their OpenAPI schemas say: JSON types are
not coerced (`"12"` is not a number of steps), unknown fields are refused (a misspelt `stpes`
would otherwise be ignored), an optional field is left out rather than sent as null, and the
patterns the schema shows for symbols and timeframes are exactly what the validators accept
(the validators give the clearer message, so the pattern lives only in the schema). Each carries
a whole-body example, so Swagger UI's "Try it out" sends a request that works."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from candlecast.api.examples import PREDICTION_ID, schema_example
from candlecast.timeframes import MAX_STEPS, parse_timeframe

SYMBOL_PATTERN = r"^ *([Xx]:)?[A-Za-z0-9]{2,30} *$"
TIMEFRAME_PATTERN = r"^(1h|4h|1d|1w|1M|1[Mm][Oo]([Nn]([Tt][Hh])?)?)$"  # 1mo, 1mon, 1month
_SYMBOL = re.compile(SYMBOL_PATTERN.replace("$", r"\Z"))
STRICT = ConfigDict(strict=True, extra="forbid")


def normalise_ticker(value: str) -> str:
    """'btcusdt' and 'X:BTCUSDT' both name X:BTCUSDT; anything else is refused."""
    if not _SYMBOL.match(value):
        raise ValueError(f"symbol {value!r} is not a ticker like 'X:BTCUSDT'")
    ticker = value.strip(" ").upper()
    return ticker if ticker.startswith("X:") else f"X:{ticker}"


def _timeframe(value: str) -> str:
    return parse_timeframe(value).code  # raises a ValueError that names the problem


def _without_default(schema: dict) -> None:
    schema.pop("default", None)  # an optional field is left out, never sent as null


def _schema_only(pattern: str, value: str) -> dict:
    """Field arguments: the pattern and example in the schema only, and no `default: null`."""

    def extra(schema: dict) -> None:
        _without_default(schema)
        schema.update(example=value, pattern=pattern)

    return {"examples": [value], "json_schema_extra": extra}


TimeframeCode = Annotated[
    str,
    Field(
        max_length=8,
        description="1h, 4h, 1d, 1w or 1M (also 1mo; 1m is refused: it reads as one minute)",
        **_schema_only(TIMEFRAME_PATTERN, "1d"),
    ),
    AfterValidator(_timeframe),
]
Symbol = Annotated[
    str,
    Field(
        min_length=2,
        max_length=40,
        description="Provider ticker such as X:BTCUSDT; the X: prefix and case are optional "
        "(btcusdt reads as X:BTCUSDT). Any provider ticker, not only the training universe.",
        **_schema_only(SYMBOL_PATTERN, "X:BTCUSDT"),
    ),
    AfterValidator(normalise_ticker),
]

# Both given is refused, and the OpenAPI document says so twice (3.0 has no "dependentRequired"):
# as a `not`, and as `maxProperties: 4`, which generators honour (symbol and timeframe are
# required, no other field is allowed, so the other two are as_of and one of steps or
# predict_until, never both). Added there, as BentoML's schema objects take no "not".
STEPS_XOR_UNTIL = {"not": {"required": ["steps", "predict_until"]}, "maxProperties": 4}
AS_OF_MEANING = (
    "A past time (RFC 3339; naive times are UTC) to answer as of: only the candles that had "
    "closed at it, read from the candle store (never the provider, never a later candle), and "
    "the model version that was the timeframe's champion at it when the model store still holds "
    "it (else the current champion; `model_chosen` says which and why). Each step then carries "
    "its outcome where its candle has closed since (`actual`, `hit`, `inside_80`). Never stored, "
    "cached or scored as a served forecast. Within the store's retention of the timeframe and "
    "not in the future, else 422."
)


AS_OF_EXAMPLE = "2025-08-01T00:00:00Z"


def _as_of_schema(schema: dict) -> None:
    _without_default(schema)
    schema["example"] = AS_OF_EXAMPLE


def as_of_field() -> dict:
    """Field arguments of an optional `as_of` (left out, never sent as null)."""
    return {
        "default": None,
        "description": AS_OF_MEANING,
        "examples": [AS_OF_EXAMPLE],
        "json_schema_extra": _as_of_schema,
    }


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"example": {"symbol": "X:BTCUSDT", "timeframe": "1d", "steps": 30}},
    )

    symbol: Symbol
    timeframe: TimeframeCode
    steps: int = Field(
        default=None,
        ge=1,
        le=MAX_STEPS,
        description=f"Candles ahead, 1–{MAX_STEPS}; {MAX_STEPS} when neither steps nor "
        "predict_until is given. Not together with predict_until.",
        json_schema_extra=_without_default,
    )
    predict_until: datetime = Field(
        default=None,
        description="Instead of steps: forecast up to the candle containing this time "
        f"(RFC 3339; naive times are UTC; in the future (after as_of when given), at most "
        f"{MAX_STEPS} candles after the last closed one). Not together with steps.",
        json_schema_extra=_without_default,
    )
    as_of: datetime = Field(**as_of_field())

    @field_validator("predict_until")
    @classmethod
    def _not_with_steps(cls, value: datetime, info: ValidationInfo) -> datetime:
        if info.data.get("steps") is not None:
            raise ValueError("give either steps or predict_until, not both")
        return value


class SymbolSearchRequest(BaseModel):
    model_config = ConfigDict(**STRICT, **schema_example({"query": "btc", "limit": 10}))

    query: Annotated[str, Field(min_length=1, max_length=40, description="Ticker or name")]
    limit: Annotated[int, Field(ge=1, le=50)] = 10


class CandlesRequest(BaseModel):
    model_config = ConfigDict(
        **STRICT, **schema_example({"symbol": "X:BTCUSDT", "timeframe": "1d", "limit": 100})
    )

    symbol: Symbol
    timeframe: TimeframeCode
    limit: Annotated[int, Field(ge=1, le=1000, description="Newest candles, at most 1000")] = 100


class PredictionGetRequest(BaseModel):
    model_config = ConfigDict(**STRICT, **schema_example({"prediction_id": PREDICTION_ID}))

    prediction_id: uuid.UUID


class PredictionLatestRequest(BaseModel):
    model_config = ConfigDict(
        **STRICT, **schema_example({"symbol": "X:BTCUSDT", "timeframe": "1d"})
    )

    symbol: Symbol
    timeframe: TimeframeCode


class AccuracyRequest(BaseModel):
    model_config = ConfigDict(
        **STRICT, **schema_example({"timeframe": "1d", "horizon": "all", "window_days": 7})
    )

    timeframe: TimeframeCode = Field(
        default=None,
        description="One timeframe, or every timeframe when left out.",
    )
    model: str = Field(
        default=None,
        min_length=1,
        max_length=120,
        description="One model version (tag, e.g. candlecast-1d:20250919t230000z), or all.",
        json_schema_extra=_without_default,
    )
    horizon: Literal["h1", "h6", "h30", "all"] = Field(
        default=None,
        description="One horizon bucket, or all four when left out.",
        json_schema_extra=_without_default,
    )
    start: date = Field(
        default=None,
        description="First day (UTC) of rows shown.",
        json_schema_extra=_without_default,
    )
    end: date = Field(
        default=None,
        description="Last day (UTC) of rows shown. Without start and end: each version's newest day.",
        json_schema_extra=_without_default,
    )
    window_days: Literal[1, 7, 30] = Field(
        default=7, description="Trailing days of outcomes each row's figures cover."
    )


class ModelsRequest(BaseModel):
    """POST /models takes an empty object."""

    model_config = ConfigDict(**STRICT, **schema_example({}))
