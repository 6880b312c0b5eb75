"""The evidence behind each horizon of a model version, as the API shows it: the two claims a
horizon can earn and the validation and test figures that back them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Skill = Literal["validated", "none"]
SKILL_MEANING = (
    "Direction skill, the side of the close against the last close. 'validated': on the model's "
    "validation window this horizon's rank IC across coins had a 99 % interval above 0 and a 90 % "
    "one above 0 on each half of the window, and its direction accuracy beat every naive rule "
    "(reversal, momentum, majority, drift) on the whole window and on each half. 'none': no such "
    "evidence; the confidence is 0.5 (the side is 'up' by convention only)."
)
RELATIVE_SKILL_MEANING = (
    "Relative skill, the ranking of the coins against each other. 'validated': on the model's "
    "validation window this horizon's rank IC across coins had a 99 % interval above 0, a 90 % one "
    "above 0 on each half of the window, and was not below the best naive ranker's (plus or minus the "
    "last 1, 6 or 24 candles' return, the sign fixed on the training window). 'none': no such "
    "evidence. Where neither claim holds the close is the random walk's (the last close)."
)


class HorizonEvidence(BaseModel):
    """The validation evidence behind one horizon (steps ahead) of a model version."""

    horizon: int
    skill: Skill = Field(description=SKILL_MEANING)
    relative_skill: Skill = Field(default="none", description=RELATIVE_SKILL_MEANING)
    signal: str | None = Field(
        default=None,
        description="What is served at this horizon, chosen by validation rank IC: 'ensemble' "
        "(the learners stacked), one learner ('xgboost', 'ridge', …) or a naive ranker "
        "('naive_ret_6': plus or minus the last 6 candles' return).",
    )
    rank_ic: float | None = Field(
        default=None, description="Mean Spearman correlation across coins per timestamp."
    )
    rank_ic_low: float | None = Field(
        default=None,
        description="99 % moving-block interval over time (the one skill is decided on: 30 "
        "horizons are tested).",
    )
    rank_ic_high: float | None = None
    rank_ic_halves: list[float | None] = Field(
        default_factory=list, description="The IC on each half of the validation window."
    )
    best_naive_ranker: str | None = Field(
        default=None,
        description="The naive ranker of the highest validation IC here ('reversal 1': minus the "
        "last candle's return; 'momentum 24': plus the last 24 candles').",
    )
    best_naive_ranker_ic: float | None = None
    direction_accuracy: float | None = None
    best_naive_rule: str | None = None
    best_naive_accuracy: float | None = None
    test_rank_ic: float | None = Field(
        default=None,
        description="The served signal's IC on the test window after validation (only "
        "measured, never used to choose or claim).",
    )
    test_best_naive_ranker_ic: float | None = None
    test_below_zero: bool = Field(
        default=False,
        description="A horizon claiming skill whose test-window IC fell below 0: a warning.",
    )
    n: int = Field(default=0, description="Validation (coin, candle) pairs at this horizon.")
    rank_fee: float | None = Field(
        default=None,
        description="The fee a side (CANDLECAST_RANK_FEE) the spreads below are shown net of.",
    )
    test_spread: float | None = Field(
        default=None,
        description="Test window: mean simple return of the top fifth of the coins as the served "
        "signal ranked them minus the bottom fifth's, per period (one candle's ranking held for "
        "this horizon), gross of fees.",
    )
    test_spread_net: float | None = Field(
        default=None,
        description="test_spread less four sides of rank_fee (a long top fifth and a short "
        "bottom fifth, each opened and closed once).",
    )
    test_best_naive_ranker_spread: float | None = Field(
        default=None, description="The same spread of the test window's best naive ranker."
    )
    test_best_naive_ranker_spread_net: float | None = None
    test_p_outperform_ece: float | None = Field(
        default=None,
        description="Expected calibration error of p_outperform against 'beat the median' on "
        "the test window at this horizon.",
    )
