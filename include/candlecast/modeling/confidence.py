"""The forecast's confidence and the evidence behind it, as served: the calibration fitted on
validation pairs (`candlecast.modeling.training.calibration` fits it), which turns a raw
prediction into the point, the probability that the close ends up (the step's side and its
confidence), `p_outperform` and the 80 % band, and per horizon the evidence the API shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CONFIDENCE_FLOOR, CONFIDENCE_CEIL = 0.001, 0.999
DEFAULT_RANK_FEE = 0.001  # a side; CANDLECAST_RANK_FEE


@dataclass
class Calibration:
    """Validation-fitted, per horizon 1..30: the two claims a horizon can earn — `skill`, the
    side of the close against the last close (direction), and `relative_skill`, the ranking of
    the coins against each other — the point's slope on the raw prediction (0: the random walk),
    the probability that the close ends above the last close as a function of the raw prediction,
    the 80 % residual band (z units) and the evidence (IC with its interval beside the best naive
    ranker's, accuracy beside the best naive rule's)."""

    slope: list[float]
    skill: list[bool]  # direction skill: confidence above 0.5 only here
    confidence_scale: float  # P(the raw prediction's side is right) = sigmoid(scale · |raw z|)
    residual_q10: list[float]
    residual_q90: list[float]
    evidence: list[dict] = field(default_factory=list)
    relative_skill: list[bool] = field(default_factory=list)
    # P(the coin beats the universe's median return) = sigmoid(scale[h] · relative z), per horizon
    outperform_scale: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.relative_skill:  # versions from before the two claims: one claim, both
            self.relative_skill = list(self.skill)
        if not self.outperform_scale:  # versions from before p_outperform: 0.5 everywhere
            self.outperform_scale = [0.0] * len(self.skill)

    def p_outperform(self, relative_z: np.ndarray, horizon: np.ndarray) -> np.ndarray:
        """P(the coin's return beats the universe's median over the horizon), from its z
        relative to the universe's mean; exactly 0.5 where the horizon has no relative skill."""
        at = np.asarray(horizon) - 1
        scale = np.asarray(self.outperform_scale, dtype=float)[at]
        p = 1.0 / (1.0 + np.exp(-scale * np.asarray(relative_z, dtype=float)))
        p = np.clip(p, CONFIDENCE_FLOOR, CONFIDENCE_CEIL)
        return np.where(np.asarray(self.relative_skill)[at] & (scale > 0), p, 0.5)

    def point(self, raw: np.ndarray, horizon: np.ndarray) -> np.ndarray:
        return np.asarray(self.slope)[np.asarray(horizon) - 1] * raw

    def probability_up(self, raw: np.ndarray, horizon: np.ndarray) -> np.ndarray:
        """P(close above the last close); exactly 0.5 where the horizon has no skill."""
        p = 1.0 / (1.0 + np.exp(-self.confidence_scale * np.asarray(raw, dtype=float)))
        p = np.clip(p, CONFIDENCE_FLOOR, CONFIDENCE_CEIL)
        return np.where(np.asarray(self.skill)[np.asarray(horizon) - 1], p, 0.5)

    def skill_table(self, fee: float = DEFAULT_RANK_FEE) -> list[dict]:
        """Per horizon 1..30, the evidence as the API shows it (HorizonEvidence's fields);
        `fee`: a side, what the top-minus-bottom-fifth spread is shown net of."""
        evidence = self.evidence or [{} for _ in self.skill]
        rows = []
        for h, (skill, figures) in enumerate(zip(self.skill, evidence, strict=True), start=1):
            low, high = figures.get("rank_ic_ci99") or (None, None)
            relative = self.relative_skill[h - 1]
            test_ic = _finite(figures.get("test_rank_ic"))
            rows.append(
                {
                    "horizon": h,
                    "skill": "validated" if skill else "none",
                    "relative_skill": "validated" if relative else "none",
                    "signal": figures.get("signal"),
                    "rank_ic": _finite(figures.get("rank_ic")),
                    "rank_ic_low": _finite(low),
                    "rank_ic_high": _finite(high),
                    "rank_ic_halves": [_finite(v) for v in figures.get("rank_ic_halves") or ()],
                    "best_naive_ranker": figures.get("best_naive_ranker"),
                    "best_naive_ranker_ic": _finite(figures.get("best_naive_ranker_ic")),
                    "direction_accuracy": _finite(figures.get("direction_accuracy")),
                    "best_naive_rule": figures.get("best_naive_rule"),
                    "best_naive_accuracy": _finite(figures.get("best_naive_accuracy")),
                    "test_rank_ic": test_ic,
                    "test_best_naive_ranker_ic": _finite(figures.get("test_best_naive_ranker_ic")),
                    "test_below_zero": bool(
                        (skill or relative) and test_ic is not None and test_ic < 0
                    ),
                    "n": int(figures.get("n", 0)),
                    **spread_figures(figures, fee),
                }
            )
        return rows

    @classmethod
    def without_skill(cls, residual_q10: list[float], residual_q90: list[float], note=None):
        """Every horizon without skill: the random walk's point at confidence 0.5, these bands."""
        figures = {"n": 0, "skill": False, "relative_skill": False}
        figures |= {"note": note} if note else {}
        return cls(
            slope=[0.0] * len(residual_q10),
            skill=[False] * len(residual_q10),
            confidence_scale=0.0,
            residual_q10=list(residual_q10),
            residual_q90=list(residual_q90),
            evidence=[dict(figures) for _ in residual_q10],
            relative_skill=[False] * len(residual_q10),
        )

    @classmethod
    def from_dict(cls, stored: dict) -> Calibration:
        if "slope" in stored:
            return cls(**stored)
        # A version trained before skill was measured per horizon: no evidence, so no skill.
        return cls.without_skill(stored["residual_q10"], stored["residual_q90"], "not recorded")


SPREADS = ("test_spread", "test_best_naive_ranker_spread")


def spread_figures(figures: dict, fee: float = DEFAULT_RANK_FEE) -> dict:
    """The test window's top-minus-bottom-fifth spread per period (the model's and the best
    naive ranker's), gross and net of `fee` a side: a long top fifth and a short bottom fifth,
    each opened and closed once, pay four sides."""
    shown: dict = {"rank_fee": fee}
    for name in SPREADS:
        gross = _finite(figures.get(name))
        shown[name] = gross
        shown[f"{name}_net"] = None if gross is None else gross - 4 * fee
    shown["test_p_outperform_ece"] = _finite(figures.get("test_p_outperform_ece"))
    return shown


def _finite(value) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def sides(p_up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The more likely side of each step and its probability (never below 0.5; a tie is up)."""
    return np.where(p_up >= 0.5, "up", "down"), np.maximum(p_up, 1.0 - p_up)
