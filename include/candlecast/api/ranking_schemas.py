"""The ranking's wire: POST /rank's body and answer, and the live figures of stored rankings
(/accuracy's `rankings`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from candlecast.api.examples import RANKING, schema_example
from candlecast.api.requests import STRICT, Symbol, TimeframeCode, as_of_field
from candlecast.api.schemas import RELATIVE_SKILL_MEANING, HorizonEvidence, Skill
from candlecast.timeframes import MAX_STEPS

MAX_RANK_SYMBOLS = 1000
UnrankedReason = Literal[
    "too_little_history", "no_fresh_candle", "unknown_symbol", "market_data_unavailable", "unknown"
]


class RankRequest(BaseModel):
    model_config = ConfigDict(**STRICT, **schema_example({"timeframe": "1h", "horizon": 6}))

    timeframe: TimeframeCode
    horizon: Annotated[int, Field(ge=1, le=MAX_STEPS, description=f"Candles ahead, 1–{MAX_STEPS}.")]
    symbols: list[Symbol] = Field(
        default=None,
        min_length=1,
        max_length=MAX_RANK_SYMBOLS,
        description="The coins to show (each measured against the served universe); left out: "
        "the served universe itself, the top CANDLECAST_TOP_N coins by USD volume.",
        json_schema_extra=lambda schema: schema.pop("default", None),
    )
    as_of: datetime = Field(**as_of_field())


class RankedCoin(BaseModel):
    rank: int | None = Field(
        description="1 for the coin predicted to do best against the others; null where the "
        "horizon has no relative skill (the coins are listed, not ranked)."
    )
    symbol: str
    relative_z: float = Field(
        description="Predicted return over the horizon relative to the universe's mean "
        "prediction at the candle, in units of the coin's volatility over the horizon."
    )
    percentile: float | None = Field(
        description="Its percentile among the universe's predictions (0-100; ties half); null "
        "where relative_skill is 'none'."
    )
    p_outperform: float = Field(
        ge=0.0,
        le=1.0,
        description="Calibrated probability that the coin's return beats the universe's median "
        "over the horizon; exactly 0.5 where relative_skill is 'none'.",
    )
    last_close: float
    in_universe: bool = Field(description="A member of the served universe at this candle.")
    realised_return: float | None = Field(
        default=None,
        description="A ranking as_of a past time only: the coin's simple return from last_close "
        "to the close of the candle the horizon ends with, from the candle store; null where "
        "that candle has not closed (or is not stored) and in every ranking of now.",
    )


class UnrankedCoin(BaseModel):
    symbol: str
    reason: UnrankedReason
    detail: str = ""


class Ranking(BaseModel):
    """Coins ordered by predicted return relative to the served universe at one horizon."""

    model_config = ConfigDict(**schema_example(RANKING))

    ranking_id: str | None = Field(
        description="The stored ranking (scored by /accuracy once its target candle closes); "
        "null when it could not be stored, and for a ranking as_of a past time (never stored)."
    )
    timeframe: str
    horizon: int
    model: str = Field(description="The model's BentoML tag, name:version.")
    model_name: str
    model_version: str
    generated_at: datetime = Field(description="When the universe's predictions were computed.")
    last_candle_at: datetime = Field(
        description="Open time of the candle every ranked coin's forecast is based on."
    )
    target_at: datetime = Field(description="Open time of the candle the horizon ends with.")
    data_age_seconds: float = Field(description="Seconds since that candle closed.")
    stale: bool = Field(
        description="True when that candle is older than the timeframe's last closed candle."
    )
    universe_size: int = Field(description="Coins of the served universe forecast at the candle.")
    relative_skill: Skill = Field(description=RELATIVE_SKILL_MEANING)
    evidence: HorizonEvidence = Field(description="The horizon's validation and test evidence.")
    cached: bool = Field(description="The universe's predictions were read, not computed.")
    coins: list[RankedCoin]
    unranked: list[UnrankedCoin] = Field(
        description="Coins that could not be forecast at the candle, with the reason; never ranked."
    )
    as_of: datetime | None = Field(
        default=None,
        description="The past time this ranking was asked as of: the universe's predictions from "
        "the candles closed at it (each coin's from the store), coins not listed then left out; "
        "null for a ranking of now.",
    )
    model_chosen: str | None = Field(
        default=None,
        description="A ranking as_of only: why `model` answered it ('champion at as_of', or "
        "'current champion: ' and the reason).",
    )
    universe_chosen: str | None = Field(
        default=None,
        description="A ranking as_of only: which universe it is measured against: the top coins "
        "the last symbol sync before as_of recorded (`universe_runs`), or, where none was "
        "recorded, today's ranking by USD volume (said so).",
    )
