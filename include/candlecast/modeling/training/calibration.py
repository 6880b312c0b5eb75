"""Calibration on validation pairs: per horizon, the evidence of skill (rank IC across coins with
a moving-block interval beside the best naive ranker's, direction accuracy beside the best naive
rule's), the point's size (realised regressed on predicted, slope clipped to [0, 1] and never past
what keeps the MAE at or below the random walk's on either half of the window), the probability
that the predicted side is right (a logistic map of the raw prediction), and conformal 80 % bands.

A horizon can earn two claims, each of which must hold on both halves of the window:
- relative skill (the ranking of the coins): the window holds at least MIN_INDEPENDENT_PERIODS
  outcomes of the horizon that do not overlap, the IC interval lies above 0 (its blocks span
  the horizon), so does each half's (a 90 % one: one-sided 95 %), and the IC is not below the
  best naive ranker's (± the last 1, 6 or 24 candles' return);
- direction skill (the side of the close): relative skill's IC conditions, and a direction
  accuracy that beats every naive rule (reversal, momentum, majority, drift) on the whole window
  and on each half.
The interval is a 99 % one: 30 horizons are tested, and a 95 % interval would hand skill to some
horizon of a model that has none. A horizon with either claim serves the calibrated point; only
direction skill moves the confidence off 0.5. A horizon without either serves the random walk.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar

from candlecast.modeling import Z_CLIP, Calibration
from candlecast.modeling.training.evaluation import (
    best_ranker_ic,
    block_bootstrap_ci,
    hit_rate,
    ic_by_timestamp,
    mean_ic,
)
from candlecast.modeling.training.folds import halves_of
from candlecast.timeframes import MAX_STEPS

MIN_CALIBRATION_PAIRS = 20
MIN_HORIZON_PAIRS = 30
NORMAL_80 = 1.2816  # the normal distribution's 80 % half-width, where no residuals are known
SKILL_LEVEL = 0.99
HALF_LEVEL = 0.90  # each half's interval: one-sided 95 %, so both halves carry the claim
MIN_INDEPENDENT_PERIODS = 10  # h-candle outcomes that do not overlap, in the window, for a claim
SLOPE_GRID = np.linspace(0.0, 1.0, 101)
SLOPE_SHRINK = 0.5  # of the smaller half's MAE-optimal slope: the MAE is convex in the slope
MAX_CONFIDENCE_SCALE = 20.0


def naive_rules(last_return: np.ndarray, majority: float, drift: float) -> dict[str, np.ndarray]:
    """The directions a rule needing no model would call (+1 up, -1 down)."""
    n = len(last_return)
    return {
        "reversal": np.where(last_return > 0, -1.0, 1.0),
        "momentum": np.where(last_return >= 0, 1.0, -1.0),
        "majority": np.full(n, 1.0 if majority >= 0 else -1.0),
        "drift": np.full(n, 1.0 if drift >= 0 else -1.0),
    }


def _beats_rules(raw, log_return, last_return, majority: float, drift: float) -> tuple:
    """The model's direction accuracy, the best naive rule's name, and every rule's accuracy."""
    accuracy = hit_rate(raw, log_return)
    rules = {
        name: hit_rate(calls, log_return)
        for name, calls in naive_rules(last_return, majority, drift).items()
    }
    best = max(rules, key=lambda name: -1.0 if np.isnan(rules[name]) else rules[name])
    return accuracy, best, rules


def _half_low(ic_stamps, ic, half_stamps, overlap: int) -> float:
    """The lower bound of a half window's IC interval at HALF_LEVEL."""
    at = np.isin(ic_stamps, half_stamps)
    ones = np.ones(int(at.sum()))
    return block_bootstrap_ci(ic_stamps[at], ic[at], ones, level=HALF_LEVEL, min_block=overlap)[0]


def horizon_evidence(
    stamps: np.ndarray,
    log_return: np.ndarray,
    raw: np.ndarray,
    last_return: np.ndarray,
    majority: float,
    drift: float,
    rankers: dict[str, np.ndarray] | None = None,
    horizon: int = 1,
) -> dict:
    """One horizon's validation figures: IC and its interval beside the best naive ranker's
    (`rankers`: rule name -> score), the direction accuracy beside the best naive rule's, each
    on the whole window and on its two halves, and the two claims they make. The intervals'
    blocks span at least `horizon` candles: the outcomes of h-candle returns overlap for h."""
    ic_stamps, ic = ic_by_timestamp(stamps, raw, log_return)
    ic_mean = float(np.mean(ic)) if len(ic) else None
    ones = np.ones(len(ic))
    ic_low, ic_high = block_bootstrap_ci(ic_stamps, ic, ones, level=SKILL_LEVEL, min_block=horizon)
    halves = [halves_of(stamps) == k for k in (0, 1)]
    ic_halves = [mean_ic(stamps[at], raw[at], log_return[at]) for at in halves]
    halves_low = [_half_low(ic_stamps, ic, stamps[at], horizon) for at in halves]
    best_ranker, naive_ic, ranker_ic = best_ranker_ic(stamps, log_return, rankers or {})
    independent = len(ic_stamps) / horizon
    ranks = bool(
        ic_mean is not None
        and independent >= MIN_INDEPENDENT_PERIODS
        and np.isfinite(ic_low)
        and ic_low > 0
        and all(np.isfinite(low) and low > 0 for low in halves_low)
    )
    accuracy, best, rules = _beats_rules(raw, log_return, last_return, majority, drift)
    on_halves = [
        _beats_rules(raw[at], log_return[at], last_return[at], majority, drift) for at in halves
    ]
    return {
        "n": int(len(raw)),
        "rank_ic": ic_mean,
        "rank_ic_ci99": [ic_low, ic_high],
        "rank_ic_ci95": list(block_bootstrap_ci(ic_stamps, ic, ones, min_block=horizon)),
        "rank_ic_halves": ic_halves,
        "rank_ic_halves_low": halves_low,
        "independent_periods": independent,
        "best_naive_ranker": best_ranker,
        "best_naive_ranker_ic": naive_ic,
        "naive_ranker_ic": ranker_ic,
        "direction_accuracy": accuracy,
        "best_naive_rule": best,
        "best_naive_accuracy": rules[best],
        "naive_accuracy": rules,
        "relative_skill": ranks and (naive_ic is None or ic_mean >= naive_ic - 1e-12),
        "skill": bool(
            ranks
            and np.isfinite(accuracy)
            and accuracy > rules[best]
            and all(np.isfinite(a) and a > r[b] for a, b, r in on_halves)
        ),
    }


def _mae_optimal(z: np.ndarray, raw: np.ndarray) -> float:
    errors = [np.mean(np.abs(z - k * raw)) for k in SLOPE_GRID]
    return float(SLOPE_GRID[int(np.argmin(errors))])


def _slope(z: np.ndarray, raw: np.ndarray, halves: np.ndarray) -> float:
    """Realised on predicted through the origin, clipped to [0, 1], and no larger than half the
    factor that minimises the absolute error on either half of the window: an edge in the MSE
    sense that costs MAE (fat tails) is not paid for with a worse point, and halving keeps the
    point's MAE at or below the random walk's under a window-to-window swing of the optimum as
    large as the optimum itself (the MAE is convex in the slope, so the half of an optimum
    keeps at least half its gain where it holds)."""
    target = np.clip(z, -Z_CLIP, Z_CLIP)
    denominator = float(np.sum(raw * raw))
    if denominator <= 0:
        return 0.0
    slope = float(np.clip(np.sum(target * raw) / denominator, 0.0, 1.0))
    for half in (0, 1):
        at = halves == half
        if at.sum() >= MIN_HORIZON_PAIRS:
            slope = min(slope, SLOPE_SHRINK * _mae_optimal(z[at], raw[at]))
    return slope


def _confidence_scale(raw: np.ndarray, log_return: np.ndarray) -> float:
    """b of P(the predicted side is right) = sigmoid(b·|raw|), by maximum likelihood; without an
    intercept, so a validation window that drifted one way does not tilt every later call."""
    moved = log_return != 0
    x = raw[moved] * np.sign(log_return[moved])  # > 0 where the prediction had the right side

    def loss(b: float) -> float:
        return float(np.mean(np.logaddexp(0.0, -b * x)))

    if len(x) == 0:
        return 0.0
    result = minimize_scalar(loss, bounds=(0.0, MAX_CONFIDENCE_SCALE), method="bounded")
    return float(result.x) if result.fun < loss(0.0) else 0.0


def no_evidence() -> Calibration:
    """No validation pairs at all: the random walk's point, confidence 0.5, normal 80 % bands."""
    return Calibration.without_skill([-NORMAL_80] * MAX_STEPS, [NORMAL_80] * MAX_STEPS)


def fit_calibration(
    z: np.ndarray,
    horizon: np.ndarray,
    log_return: np.ndarray,
    raw: np.ndarray,
    timestamps: np.ndarray,
    last_return: np.ndarray,
    majority: float,
    drift: np.ndarray,
    rankers: Callable[[int, np.ndarray], dict[str, np.ndarray]] | None = None,
    signals: list[str] | None = None,
) -> Calibration:
    """On validation pairs: per-horizon evidence and the two claims, slopes where either holds,
    the confidence map fitted on the direction-skilled horizons, and conformal 80 % bands of the
    point's residuals. `drift`: the training mean log return per horizon (1..30); `majority`: +1
    when most training targets went up, else -1; `rankers(h, at)`: the naive rankers' scores
    of the pairs `at` of horizon h, by rule name; `signals`: what is served at each horizon."""
    if len(z) < MIN_CALIBRATION_PAIRS:
        return no_evidence()
    calibration = no_evidence()
    at_horizon = [np.flatnonzero(horizon == h) for h in range(1, MAX_STEPS + 1)]
    for h, at in enumerate(at_horizon, start=1):
        if len(at) >= MIN_HORIZON_PAIRS:
            figures = horizon_evidence(
                timestamps[at],
                log_return[at],
                raw[at],
                last_return[at],
                majority,
                drift[h - 1],
                rankers(h, at) if rankers else None,
                h,
            )
            calibration.evidence[h - 1] = figures | ({"signal": signals[h - 1]} if signals else {})
    halves = halves_of(timestamps)
    _claims_and_slopes(calibration, z, raw, halves, at_horizon)
    _fit_confidence(calibration, horizon, raw, log_return, halves)
    residual = z - np.asarray(calibration.slope)[horizon - 1] * raw
    for h, at in enumerate(at_horizon, start=1):
        if len(at) >= MIN_HORIZON_PAIRS:
            q10, q90 = np.quantile(residual[at], (0.1, 0.9))
            # Widened where needed so that the band always holds the point forecast.
            calibration.residual_q10[h - 1] = float(min(q10, 0.0))
            calibration.residual_q90[h - 1] = float(max(q90, 0.0))
    return calibration


def _claims_and_slopes(calibration: Calibration, z, raw, halves, at_horizon) -> None:
    """Each horizon's claims from its evidence; the point's slope wherever one holds."""
    for h, figures in enumerate(calibration.evidence, start=1):
        calibration.relative_skill[h - 1] = bool(figures.get("relative_skill"))
        calibration.skill[h - 1] = bool(figures["skill"])
        if figures["skill"] or figures.get("relative_skill"):
            at = at_horizon[h - 1]
            calibration.slope[h - 1] = _slope(z[at], raw[at], halves[at])


def _fit_confidence(calibration: Calibration, horizon, raw, log_return, halves) -> None:
    """The confidence map on the direction-skilled horizons, trusted only as far as both halves
    of the window agree (the smaller of their scales); none usable: no direction skill."""
    skilled = np.isin(horizon, np.flatnonzero(calibration.skill) + 1)
    if skilled.sum() >= MIN_CALIBRATION_PAIRS:
        calibration.confidence_scale = min(
            _confidence_scale(
                raw[skilled & (halves == half)], log_return[skilled & (halves == half)]
            )
            for half in (0, 1)
        )
    if calibration.confidence_scale == 0.0:
        calibration.skill = [False] * MAX_STEPS
        for h, figures in enumerate(calibration.evidence, start=1):
            figures["skill"] = False
            if not calibration.relative_skill[h - 1]:
                calibration.slope[h - 1] = 0.0
