"""`p_outperform` on validation pairs: per horizon with relative skill, the probability that a coin's
return beats the median of the coins' at the same candle, as sigmoid(b · relative z), where the
relative z is the raw prediction minus the mean of the coins' at that candle.

No intercept: a coin predicted at the universe's mean is a coin-flip against its median, and a
window whose cross-section was skewed one way does not tilt every later call. b is fitted by
maximum likelihood on each half of the window and the smaller kept: trusted only as far as both
halves agree (as the confidence map is). A horizon without relative skill keeps b = 0, so its
p_outperform is exactly 0.5. Candles with fewer than MIN_CROSS_SECTION coins are left out.

Measured on the test window by `outperform_ece` (the expected calibration error of the served
p_outperform against the realised "beat the median").
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from candlecast.modeling import Calibration
from candlecast.modeling.relative_z import (
    MIN_CROSS_SECTION,
    above_median,
    centred,
    group_codes,
    group_sizes,
)
from candlecast.modeling.training.evaluation import expected_calibration_error
from candlecast.modeling.training.folds import halves_of
from candlecast.timeframes import MAX_STEPS

MAX_OUTPERFORM_SCALE = 20.0
MIN_PAIRS = 30


def relative_pairs(stamps, horizon, raw, log_return) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept, relative z, beat the median) of pairs whose candle and horizon hold enough coins."""
    groups = group_codes(stamps, horizon)
    kept = group_sizes(groups) >= MIN_CROSS_SECTION
    return (
        kept,
        centred(raw, groups)[kept],
        above_median(log_return, groups)[kept],
    )


def outperform_scale(relative_z: np.ndarray, beat: np.ndarray) -> float:
    """b of P(beat) = sigmoid(b · relative z) by maximum likelihood, 0 when no b > 0 does better
    than a coin-flip."""
    if len(relative_z) < MIN_PAIRS:
        return 0.0
    x = relative_z * np.sign(beat - 0.5)  # > 0 where the coin ended on its predicted side

    def loss(b: float) -> float:
        return float(np.mean(np.logaddexp(0.0, -b * x)))

    result = minimize_scalar(loss, bounds=(0.0, MAX_OUTPERFORM_SCALE), method="bounded")
    return float(result.x) if result.fun < loss(0.0) else 0.0


def fit_outperform(calibration: Calibration, horizon, raw, log_return, timestamps) -> None:
    """Each relatively skilled horizon's scale, the smaller of the window's two halves'."""
    kept, relative, beat = relative_pairs(timestamps, horizon, raw, log_return)
    halves, horizon = halves_of(timestamps)[kept], np.asarray(horizon)[kept]
    scales = [0.0] * MAX_STEPS
    for h in range(1, MAX_STEPS + 1):
        if not calibration.relative_skill[h - 1]:
            continue
        at = horizon == h
        scales[h - 1] = min(
            outperform_scale(relative[at & (halves == k)], beat[at & (halves == k)]) for k in (0, 1)
        )
        if calibration.evidence and h <= len(calibration.evidence):
            calibration.evidence[h - 1]["outperform_scale"] = scales[h - 1]
    calibration.outperform_scale = scales


def outperform_ece(calibration: Calibration, stamps, horizon, raw, log_return) -> dict:
    """The served p_outperform's expected calibration error against "beat the median" on these
    pairs: overall, over the relatively skilled horizons, and per horizon."""
    kept, relative, beat = relative_pairs(stamps, horizon, raw, log_return)
    horizon = np.asarray(horizon)[kept]
    p = calibration.p_outperform(relative, horizon)
    skilled = np.asarray(calibration.relative_skill)[horizon - 1]
    by_horizon = {
        h: expected_calibration_error(p[horizon == h], beat[horizon == h])
        for h in range(1, MAX_STEPS + 1)
        if (horizon == h).any()
    }
    return {
        "p_outperform_ece": expected_calibration_error(p, beat),
        "p_outperform_ece_skilled": expected_calibration_error(p[skilled], beat[skilled]),
        "p_outperform_ece_by_horizon": by_horizon,
        "p_outperform_pairs": int(len(p)),
    }
