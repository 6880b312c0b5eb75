"""p_outperform and the ranking's test figures as pure functions: fitted where the ranking holds on
both halves of the window, exactly 0.5 where it does not or a horizon has no relative skill,
calibrated on fresh pairs; a stored calibration from before it serves 0.5; the fifth spread of a
planted ranking is positive, of a shuffled one not."""

from __future__ import annotations

import numpy as np
import pytest

from candlecast.modeling import Calibration, mid_percentile
from candlecast.modeling.relative_z import above_median, centred
from candlecast.modeling.training.calibration import no_evidence
from candlecast.modeling.training.outperform import fit_outperform, outperform_ece
from candlecast.modeling.training.ranking_eval import fifth_spread

CANDLES, COINS = 400, 30


def pairs(strength: float, seed: int = 3, horizon: int = 1):
    """Pairs of one horizon: the realised return is `strength` of the raw prediction plus noise."""
    rng = np.random.default_rng(seed)
    stamps = np.repeat(np.arange(CANDLES), COINS).astype("datetime64[h]")
    raw = rng.normal(size=CANDLES * COINS)
    market = np.repeat(rng.normal(size=CANDLES), COINS)
    actual = 0.01 * (strength * raw + rng.normal(size=raw.size) + 3 * market)
    return stamps, np.full(raw.size, horizon), raw + 0.5 * market, actual


def calibrated(skilled: bool) -> Calibration:
    calibration = no_evidence()
    calibration.relative_skill = [skilled] + [False] * 29
    return calibration


def test_a_planted_ranking_gets_a_calibrated_p_outperform():
    stamps, horizon, raw, actual = pairs(0.5)
    calibration = calibrated(True)
    fit_outperform(calibration, horizon, raw, actual, stamps)
    assert calibration.outperform_scale[0] > 0 and calibration.outperform_scale[1:] == [0.0] * 29
    fresh = pairs(0.5, seed=4)
    figures = outperform_ece(calibration, *fresh)
    assert figures["p_outperform_ece"] < 0.02  # calibrated out of sample
    p = calibration.p_outperform(np.array([1.0, 0.0, -1.0]), np.array([1, 1, 1]))
    assert p[0] > 0.5 == p[1] > p[2]


@pytest.mark.parametrize("strength, skilled", [(0.0, True), (0.5, False)])
def test_no_ranking_or_no_relative_skill_is_exactly_one_half(strength, skilled):
    stamps, horizon, raw, actual = pairs(strength)
    calibration = calibrated(skilled)
    fit_outperform(calibration, horizon, raw, actual, stamps)
    if not skilled:
        assert calibration.outperform_scale == [0.0] * 30
    p = calibration.p_outperform(centred(raw, stamps), horizon)
    if skilled:  # no signal: a scale near 0, never a confident call
        assert np.all(np.abs(p - 0.5) < 0.05)
    else:
        assert np.all(p == 0.5)


def test_a_calibration_stored_before_p_outperform_serves_one_half():
    stored = {k: v for k, v in calibrated(True).__dict__.items() if k != "outperform_scale"}
    calibration = Calibration.from_dict(stored)
    assert calibration.outperform_scale == [0.0] * 30
    assert np.all(calibration.p_outperform(np.array([3.0, -3.0]), np.array([1, 2])) == 0.5)


def test_percentiles_and_the_median_split():
    universe = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    assert mid_percentile(universe, universe).tolist() == [10.0, 30.0, 50.0, 70.0, 90.0]
    assert mid_percentile(np.array([5.0]), universe)[0] == 100.0
    beat = above_median(universe, np.zeros(5))
    assert beat.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0] and beat.mean() == 0.5


def test_the_fifth_spread_of_a_planted_ranking_and_of_noise():
    stamps, _, raw, actual = pairs(0.5)
    planted = fifth_spread(stamps, raw, actual)
    assert planted["spread"] > 0.005 and planted["spread_periods"] == CANDLES
    shuffled = fifth_spread(stamps, np.random.default_rng(9).permutation(raw), actual)
    assert abs(shuffled["spread"]) < planted["spread"] / 4
