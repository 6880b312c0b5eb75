"""Response bodies of the prediction API, the forecast included."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from candlecast.api import examples as api_examples
from candlecast.api.evidence import (  # re-exported: the wire's names, in one place
    RELATIVE_SKILL_MEANING,
    SKILL_MEANING,
    HorizonEvidence,
    Skill,
)

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


class Challenger(BaseModel):
    model: str = Field(description="BentoML tag, name:version.")
    trained_at: datetime | None = None
    gate: dict = Field(
        default_factory=dict,
        description="Its gate against the champion: verdict (pass, fail, not_comparable), "
        "reasons, the test window, both models' skill figures with 95 % intervals, and the "
        "challenger-minus-champion differences with paired intervals.",
    )
    live_gate: dict = Field(
        default_factory=dict,
        description="Its live comparison with the champion, as the shadows' outcomes accumulate: "
        "n paired outcomes (of min_outcomes), the challenger-minus-champion differences of "
        "direction accuracy (over the steps both called) and rank IC with 95 % block-bootstrap "
        "intervals, verdict (accumulating, worse, pass), decision and decide_by; empty before "
        "the first scoring pass.",
    )


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
    skill: list[HorizonEvidence] = Field(
        default_factory=list,
        description="Validation evidence per horizon 1..30 as recorded with the model.",
    )
    stage: str | None = Field(
        default=None, description="The version's release stage: `champion` when it is served."
    )
    gate: dict = Field(
        default_factory=dict,
        description="The gate it passed against the champion before it (empty for a first "
        "version): verdict, reasons, window, both models' figures and the differences.",
    )
    challenger: Challenger | None = Field(
        default=None, description="The newest challenger of this timeframe, not served."
    )


class ModelList(BaseModel):
    model_config = ConfigDict(**api_examples.schema_example(api_examples.MODEL_LIST))

    models: list[ServingModel]
    pinned: bool = Field(
        default=False,
        description="True when served from a pinned Bento (`make bento`): it serves the versions "
        "it carries whatever is promoted later; false: each timeframe's champion, followed.",
    )
    bento: str | None = Field(
        default=None, description="The pinned Bento's tag, name:version (null when not pinned)."
    )


class AccuracyRow(BaseModel):
    timeframe: str
    model: str
    stage: str | None = Field(
        default=None,
        description="The version's release stage now: champion (served), challenger (shadowed "
        "beside it), retired, rolled_back, rejected (by the live gate) or pruned.",
    )
    horizon: str = Field(default="all", description="h1, h6, h30 (that step) or all (1-30).")
    day: date | None = Field(default=None, description="UTC day the window ends with.")
    window_days: int = Field(default=7, description="Trailing days of outcomes counted.")
    predictions: int = Field(description="Stored predictions with at least one closed target.")
    n: int = Field(description="Forecast steps whose target candle has closed and is known.")
    coins: int = 0
    calls: int | None = Field(
        default=None,
        description="Steps that named a side (confidence above 0.5: a step without skill names "
        "none) and whose price moved: what direction_accuracy and ece are computed over.",
    )
    direction_accuracy: float | None
    direction_accuracy_ci95: list[float] | None = None
    mae_ratio_to_random_walk: float | None
    mae_ratio_ci95: list[float] | None = None
    interval_80_coverage: float | None
    interval_80_coverage_ci95: list[float] | None = None
    ece: float | None = None
    rank_ic: float | None = Field(
        default=None, description="Across coins per target time, where enough coins were scored."
    )
    test: dict[str, float | list[float] | None] = Field(
        default_factory=dict, description="The version's own test-window figures, for comparison."
    )


class RankingAccuracyRow(BaseModel):
    timeframe: str
    model: str
    horizon: int
    day: date = Field(description="UTC day the rankings' target candles closed.")
    rankings: int = Field(description="Stored rankings scored that day.")
    coins: float = Field(description="Mean coins scored per ranking.")
    rank_ic: float | None = Field(
        description="Mean Spearman correlation of the ranking with the realised returns."
    )
    spread: float | None = Field(
        description="Mean top-minus-bottom-fifth spread of realised simple returns, gross."
    )
    spread_net: float | None = Field(description="The spread less four sides of the fee.")
    fee: float = Field(description="The fee a side (CANDLECAST_RANK_FEE).")


class AccuracyReport(BaseModel):
    model_config = ConfigDict(**api_examples.schema_example(api_examples.ACCURACY_REPORT))

    as_of: datetime
    rows: list[AccuracyRow]
    rankings: list[RankingAccuracyRow] = Field(
        default_factory=list,
        description="Stored rankings (/rank) scored once their target candle closed, per "
        "timeframe, version, horizon and day: rank IC and top-minus-bottom-fifth spread.",
    )
    note: str = ""


class ComponentHealth(BaseModel):
    status: Status
    detail: str = ""


class Health(BaseModel):
    model_config = ConfigDict(**api_examples.schema_example(api_examples.HEALTH))

    status: Status
    access: Literal["open", "keys", "closed", "unknown"] = Field(
        description="open: no API key exists, requests need none; keys: a key exists, so "
        "every operation but the probes, /healthz, /metrics and the docs needs one; closed "
        "(CANDLECAST_REQUIRE_API_KEY): every operation but the probes and the docs needs a key, "
        "whether or not one exists; unknown: PostgreSQL cannot say whether a key exists."
    )
    postgres: ComponentHealth
    redis: ComponentHealth
    models: ComponentHealth
    provider: ComponentHealth


class ForecastStep(BaseModel):
    step: int
    timestamp: datetime = Field(description="Open time of the forecast candle.")
    open: float = Field(description="The previous step's forecast close (step 1: the last close).")
    high: float = Field(
        description="max(open, close) widened by the median upper wick of the last 20 candles: "
        "a candle shape, not a forecast of the range."
    )
    low: float = Field(
        description="min(open, close) narrowed by the median lower wick of the last 20 candles."
    )
    close: float = Field(
        description="Point forecast: the calibrated expected log return from the last close "
        "(the last close itself where both skill and relative_skill are 'none')."
    )
    close_low_80: float
    close_high_80: float
    direction: Literal["up", "down"] = Field(
        description="The more likely side of this step's close against the last close."
    )
    confidence: float = Field(
        ge=0.0,
        le=1.0,
        description="Calibrated probability of that side: never below 0.5, exactly 0.5 where "
        "skill is 'none' (forecasts stored by versions before per-step skill may hold less).",
    )
    skill: Skill = Field(default="none", description=SKILL_MEANING)
    relative_skill: Skill = Field(default="none", description=RELATIVE_SKILL_MEANING)
    relative_z: float | None = Field(
        default=None,
        description="The step's predicted return relative to the universe, in units of the "
        "coin's volatility over the horizon (z): the model's raw prediction minus the mean of "
        "the served universe's at the same candle and horizon; the raw prediction itself where "
        "no universe is at hand (universe_size null). Null in forecasts stored before it existed.",
    )
    percentile: float | None = Field(
        default=None,
        ge=0.0,
        le=100.0,
        description="Where relative_z ranks among the served universe's predictions for the same "
        "candle and horizon, 0-100 (the share of the universe predicted below it, ties counted "
        "half; 100: predicted to do best). Null where relative_skill is 'none' or no universe is "
        "at hand.",
    )
    p_outperform: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Calibrated probability that the coin's return over this horizon beats the "
        "median of the universe's coins (fitted on the validation window, its calibration error "
        "measured on the test window); exactly 0.5 where relative_skill is 'none'.",
    )
    actual: float | None = Field(
        default=None,
        description="An as_of forecast only: the realised close of this step's candle, from the "
        "candle store; null where that candle has not closed (or is not stored) and in every "
        "forecast without as_of.",
    )
    hit: bool | None = Field(
        default=None,
        description="An as_of forecast only: the direction was right (the close moved to the "
        "named side of last_close); null where actual is, where the price did not move, or "
        "where the step names no side (confidence 0.5), as live outcomes count it.",
    )
    inside_80: bool | None = Field(
        default=None,
        description="An as_of forecast only: actual lies within close_low_80..close_high_80; "
        "null where actual is.",
    )


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
    confidence: float = Field(description="Confidence of that direction at the last step.")
    mean_confidence: float
    indicators: dict[str, float | None] = Field(
        description="The features that drive the model most, at the newest candle."
    )
    persisted: bool = Field(description="False when the forecast could not be stored.")
    cached: bool = Field(default=False, description="Served from the prediction cache.")
    skill: list[HorizonEvidence] = Field(
        default_factory=list,
        description="The model's validation evidence for each step served, step 1 first.",
    )
    universe_size: int | None = Field(
        default=None,
        description="Coins of the served universe (top by USD volume) forecast at the same "
        "candle that the steps' relative_z and percentile are measured against; null when none "
        "is at hand (a candle older than the universe's, or the universe unavailable, or an "
        "as_of forecast: /rank with as_of ranks the universe as of a time).",
    )
    as_of: datetime | None = Field(
        default=None,
        description="The past time this forecast was asked as of (only the candles closed at it "
        "were read); null for a forecast of now. An as_of forecast is never stored (persisted "
        "false): its prediction_id names the question, not a stored forecast.",
    )
    model_chosen: str | None = Field(
        default=None,
        description="An as_of forecast only: why `model` answered it: 'champion at as_of', or "
        "'current champion: ' and the reason (none was champion yet, that version is no longer "
        "in the model store, PostgreSQL could not say).",
    )
    steps: list[ForecastStep]
