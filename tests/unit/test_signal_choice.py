"""At least what a one-line rule knows (issue 22): the served signal is chosen per horizon on
rank IC, never on an error a near-constant wins; the naive rankers are fitted on training and
served like any learner; relative and direction skill are two claims, each of which must hold on
both halves of the validation window, and a claim whose test IC fell below 0 is flagged."""

from __future__ import annotations

import numpy as np
import pytest

from candlecast.modeling import Calibration, ForecastModel
from candlecast.modeling.naive_rankers import NaiveRanker, ranker_name
from candlecast.modeling.training.calibration import fit_calibration, horizon_evidence
from candlecast.modeling.training.stacking import ENSEMBLE, stack
from candlecast.timeframes import MAX_STEPS

from .sample_frames import sample_candles

COLUMNS = ["ret_1", "ret_6", "ret_24", "other"]


def _cross_section(n_stamps=300, coins=30, horizons=range(1, MAX_STEPS + 1), seed=3):
    """Pairs in long form: each (stamp, horizon) a cross-section of `coins` coins."""
    rng = np.random.default_rng(seed)
    h = np.repeat(np.asarray(list(horizons)), n_stamps * coins)
    stamps = np.tile(np.repeat(np.arange(n_stamps), coins), len(list(horizons)))
    return rng, h, stamps.astype("datetime64[h]")


def test_a_learner_that_wins_on_mae_without_ranking_is_never_chosen():
    rng, horizon, stamps = _cross_section()
    signal = rng.normal(size=len(horizon))
    log_return = 0.01 * (0.15 * signal + rng.standard_t(4, size=len(horizon)))
    predictions = {
        "xgboost": rng.normal(scale=1e-3, size=len(horizon)),  # near 0: the lowest MAE, no rank
        "ridge": 3.0 * signal,  # ranks, three times too large: a worse MAE
    }
    z = log_return / 0.01
    mae = {name: np.mean(np.abs(z - p)) for name, p in predictions.items()}
    assert mae["xgboost"] < mae["ridge"]  # the premise: MAE would choose the constant
    result = stack(predictions, log_return, stamps, horizon)
    assert "xgboost" not in result.chosen
    assert set(result.chosen) <= {"ridge", ENSEMBLE}
    for h in range(MAX_STEPS):
        assert result.validation_ic["ridge"][h] > result.validation_ic["xgboost"][h] + 0.05


def test_a_naive_ranker_is_served_where_it_ranks_better_than_every_learner():
    rng, horizon, stamps = _cross_section()
    last = rng.normal(size=len(horizon))
    decay = np.where(horizon <= 6, 0.2, 0.0)  # a reversal at h1-h6 only
    log_return = 0.01 * (-decay * last + rng.normal(size=len(horizon)))
    predictions = {
        "xgboost": rng.normal(size=len(horizon)),
        "lstm": rng.normal(size=len(horizon)),
        ranker_name(1): -last,
    }
    result = stack(predictions, log_return, stamps, horizon)
    assert set(result.chosen[:5]) <= {ranker_name(1), ENSEMBLE}
    for h in range(1, 6):  # h6 shares its neighbour h7's noise: not asked
        at = horizon == h
        served = sum(
            np.asarray(weights)[h - 1] * predictions[name][at]
            for name, weights in result.weights.items()
        )
        assert np.corrcoef(served, -last[at])[0, 1] > 0.95  # the ranker, alone or nearly
        assert result.validation_ic[ranker_name(1)][h - 1] > 0.1


@pytest.mark.parametrize("effect, rule", [(-0.1, "reversal 1"), (0.1, "momentum 1")])
def test_a_ranker_fixes_one_sign_on_training_and_serves_it(effect, rule):
    rng = np.random.default_rng(5)
    n = 6000
    features = rng.normal(size=(n, len(COLUMNS))).astype("float32") * 0.01
    rows = np.arange(n)
    horizon = rng.integers(1, MAX_STEPS + 1, size=n)
    past = features[:, 0].astype(float) / 0.01
    later = effect * past / np.sqrt(horizon) + rng.normal(size=n)
    ranker = NaiveRanker.fit(features, COLUMNS, rows, horizon, later, np.full(n, 0.01), 1)
    assert ranker.rule(1) == ranker.rule(30) == rule
    served = ranker.predict(features, None, np.array([0, 0]), np.array([1, 30]))
    assert served[0] == served[1]
    assert np.sign(served[0]) == np.sign(effect * past[0])
    assert abs(served[0]) == pytest.approx(abs(features[0, 0]) / ranker.scale)


def test_per_horizon_weights_with_a_ranker_survive_save_and_load(tmp_path):
    features = np.random.default_rng(1).normal(size=(5, len(COLUMNS))).astype("float32")
    ranker = NaiveRanker(6, np.r_[-np.ones(15), np.ones(15)], 0.02, COLUMNS)
    weights = {ranker.name: [1.0] * 15 + [0.0] * 15}
    model = ForecastModel({ranker.name: ranker}, weights, "1h", COLUMNS, "v2", _no_claims())
    model.save(tmp_path)
    loaded = ForecastModel.load(tmp_path)
    rows, horizon = np.full(30, 4), np.arange(1, 31)
    raw = loaded.raw_z(features, np.zeros(5, "int64"), rows, horizon)
    np.testing.assert_allclose(raw, model.raw_z(features, np.zeros(5, "int64"), rows, horizon))
    np.testing.assert_allclose(raw[:15], -features[4, 1] / 0.02, rtol=1e-6)
    assert (raw[15:] == 0).all()  # weight 0 there: the random walk's raw


def test_a_version_with_one_weight_per_learner_loads_it_at_every_horizon(tmp_path):
    ranker = NaiveRanker(1, np.ones(30), 0.01, COLUMNS)
    model = ForecastModel(
        {ranker.name: ranker}, {ranker.name: 0.5}, "1h", COLUMNS, "v2", _no_claims()
    )
    features = np.ones((1, len(COLUMNS)), dtype="float32") * 0.01
    raw = model.raw_z(features, np.zeros(1, "int64"), np.zeros(30, "int64"), np.arange(1, 31))
    np.testing.assert_allclose(raw, 0.5)


def _no_claims() -> Calibration:
    return Calibration.without_skill([-1.28] * MAX_STEPS, [1.28] * MAX_STEPS)


def _market_and_ranking(n_stamps=400, coins=40, strength=0.3, seed=7, halves=(True, True)):
    """One horizon: a raw prediction that ranks the coins, and a market that rose at every
    candle, so 'always up' calls the side better than any ranking can."""
    rng = np.random.default_rng(seed)
    stamps = np.repeat(np.arange(n_stamps), coins).astype("datetime64[h]")
    raw = rng.normal(size=len(stamps))
    later = np.arange(len(stamps)) >= len(stamps) // 2
    planted = np.where(later, halves[1], halves[0]) * strength
    log_return = 0.01 * (planted * raw + rng.normal(size=len(raw)) + 3.0)
    return stamps, log_return, raw, rng.normal(size=len(raw)) * 0.01


def test_relative_skill_without_direction_skill_is_claimed_as_such():
    stamps, log_return, raw, last = _market_and_ranking()
    figures = horizon_evidence(stamps, log_return, raw, last, 1.0, 0.03)
    assert figures["relative_skill"] and not figures["skill"]
    assert figures["best_naive_rule"] in ("majority", "drift")
    assert figures["best_naive_accuracy"] > figures["direction_accuracy"]


def test_a_claim_must_hold_on_both_halves_of_the_window():
    stamps, log_return, raw, last = _market_and_ranking(strength=0.45, halves=(True, False))
    figures = horizon_evidence(stamps, log_return, raw, last, 1.0, 0.03)
    assert figures["rank_ic_ci99"][0] > 0  # the whole window alone would have claimed it
    assert figures["rank_ic_halves"][0] > 0.1 and abs(figures["rank_ic_halves"][1]) < 0.05
    assert figures["rank_ic_halves_low"][0] > 0 and figures["rank_ic_halves_low"][1] < 0
    assert not figures["relative_skill"] and not figures["skill"]


def test_a_ranking_below_the_best_naive_rankers_claims_no_relative_skill():
    stamps, log_return, raw, last = _market_and_ranking()
    better = raw + 0.3 * (log_return / 0.01 - 3.0)  # knows more of the outcome than raw
    figures = horizon_evidence(stamps, log_return, raw, last, 1.0, 0.03, {"reversal 1": better})
    assert figures["rank_ic_ci99"][0] > 0
    assert figures["best_naive_ranker"] == "reversal 1"
    assert figures["best_naive_ranker_ic"] > figures["rank_ic"]
    assert not figures["relative_skill"]


def test_a_relative_claim_serves_the_point_at_confidence_one_half():
    stamps, log_return, raw, last = _market_and_ranking()
    horizon = np.ones(len(raw), dtype=int)
    z = (log_return - 0.03) / 0.01
    calibration = fit_calibration(z, horizon, log_return, raw, stamps, last, 1.0, np.full(30, 0.03))
    assert calibration.relative_skill[0] and not calibration.skill[0]
    assert calibration.slope[0] > 0
    model = ForecastModel({}, {}, "1h", [], "v2", calibration)
    candles = sample_candles("1h", "X:BTCUSDT", 60)
    path = model.path_from_raw(np.full(30, 1.5), 0.01, candles)
    assert path["close"][0] > candles["close"].iloc[-1]  # the ranking moves the point
    assert path["confidence"][0] == 0.5 and path["relative_skill"][0] and not path["skill"][0]
    table = calibration.skill_table()
    assert table[0]["relative_skill"] == "validated" and table[0]["skill"] == "none"


def test_a_claimed_horizon_whose_test_ic_fell_below_zero_is_flagged():
    calibration = _no_claims()
    calibration.relative_skill[0] = True
    calibration.evidence[0] |= {"test_rank_ic": -0.01}
    calibration.evidence[1] |= {"test_rank_ic": -0.02}  # no claim there: nothing to flag
    table = calibration.skill_table()
    assert table[0]["test_below_zero"] and not table[1]["test_below_zero"]
    assert table[0]["test_rank_ic"] == -0.01


def test_two_signals_that_rank_apart_are_stacked_in_rank_space_despite_fat_tails():
    rng, horizon, stamps = _cross_section(horizons=range(1, 4))
    learned, last = rng.normal(size=len(horizon)), rng.standard_t(2, size=len(horizon))
    log_return = 0.01 * (0.2 * learned - 0.2 * np.tanh(last) + rng.normal(size=len(horizon)))
    predictions = {"ridge": learned, ranker_name(1): -last * 1e-3}  # a rule of wild values
    result = stack(predictions, log_return, stamps, horizon)
    assert result.chosen[:3] == [ENSEMBLE] * 3
    for h in range(3):
        ensemble = result.validation_ic[ENSEMBLE][h]  # cross-fitted
        assert ensemble > max(
            result.validation_ic["ridge"][h], result.validation_ic[ranker_name(1)][h]
        )
        assert result.ensemble_weights[ranker_name(1)][h] > 0


def test_intervals_of_overlapping_outcomes_span_the_horizon():
    """A 30-candle return's IC at consecutive candles shares 29 candles of outcome: blocks of 30
    keep that dependence, so the interval is wider than the default blocks would make it."""
    from candlecast.modeling.training.evaluation import block_bootstrap_ci

    rng = np.random.default_rng(9)
    shocks = rng.normal(size=630)
    overlapping = np.convolve(shocks, np.ones(30) / 30, mode="valid")[:600]  # a 30-candle mean
    stamps = np.arange(600)
    default = block_bootstrap_ci(stamps, overlapping, np.ones(600))
    spanning = block_bootstrap_ci(stamps, overlapping, np.ones(600), min_block=30)
    assert spanning[1] - spanning[0] > 1.15 * (default[1] - default[0])  # 16-candle blocks


def test_no_claim_on_fewer_independent_outcomes_than_the_horizon_allows():
    stamps, log_return, raw, last = _market_and_ranking(n_stamps=150)
    short = horizon_evidence(stamps, log_return, raw, last, 1.0, 0.03, horizon=1)
    assert short["relative_skill"]  # 150 one-candle outcomes
    long = horizon_evidence(stamps, log_return, raw, last, 1.0, 0.03, horizon=30)
    assert long["independent_periods"] == 5 and not long["relative_skill"] and not long["skill"]


def test_no_interval_from_fewer_than_three_independent_stretches():
    from candlecast.modeling.training.evaluation import block_bootstrap_ci

    values = np.random.default_rng(2).normal(size=40)
    assert np.isfinite(block_bootstrap_ci(np.arange(40), values, np.ones(40), min_block=13)).all()
    low, high = block_bootstrap_ci(np.arange(40), values, np.ones(40), min_block=14)
    assert np.isnan(low) and np.isnan(high)  # 40 stamps hold fewer than 3 blocks of 14
