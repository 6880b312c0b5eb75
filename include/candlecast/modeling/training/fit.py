"""Train one timeframe's forecaster across all symbols: walk-forward folds with purge gaps, four
learners (XGBoost, random forest, ridge, LSTM) and three naive rankers (± the last 1, 6 and 24
candles' return), and per horizon the signal of the highest validation rank IC served: their
stacked ensemble, one learner, or one naive ranker.

Per fold: train | validation | test in time order. Training pairs end before validation starts
and validation pairs before the test starts (the purge). The rankers' signs are fixed on the
training window; the stacking weights, the choice of signal per horizon, the point's size and
the calibration are all learned on the validation window; the test window is only measured. The
served version is the latest fold's.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from candlecast.modeling.features import FEATURE_SET_VERSION
from candlecast.modeling.naive_rankers import is_ranker
from candlecast.modeling.predictor import ForecastModel, horizon_weights
from candlecast.modeling.training.calibration import (
    MIN_CALIBRATION_PAIRS,
    fit_calibration,
    no_evidence,
)
from candlecast.modeling.training.dataset import Pairs, Panel, build_panel, pairs
from candlecast.modeling.training.folds import Fold, rows_between, walk_forward_folds
from candlecast.modeling.training.learner_fitting import MAX_TRAIN_PAIRS, fit_learners, z_of
from candlecast.modeling.training.measurement import (
    TrainingBaselines,
    claims_of,
    measure,
    record_test_ic,
)
from candlecast.modeling.training.outperform import fit_outperform
from candlecast.modeling.training.ranking_eval import record_ranking
from candlecast.modeling.training.stacking import Stacking, only, stack
from candlecast.ohlcv import CandleStore
from candlecast.timeframes import MAX_STEPS, Timeframe

log = logging.getLogger(__name__)

MAX_VALIDATION_PAIRS = 300_000
MAX_TEST_PAIRS = 600_000


@dataclass
class FoldResult:
    fold: Fold
    model: ForecastModel
    stacking: Stacking
    xgboost_alone: ForecastModel
    test: Pairs
    test_raw_z: np.ndarray  # the served learners' raw prediction on the test pairs
    learners: dict = field(default_factory=dict)  # every trained learner, served or not
    metrics: dict = field(default_factory=dict)
    baselines: TrainingBaselines | None = None


def _model(learners, weights, timeframe, panel, calibration) -> ForecastModel:
    return ForecastModel(
        learners={n: learners[n] for n in weights if any(np.atleast_1d(weights[n]))},
        weights=weights,
        timeframe=timeframe.code,
        feature_names=panel.columns,
        feature_set_version=FEATURE_SET_VERSION,
        calibration=calibration,
        market=dict(panel.market),
    )


def ranker_scores(learners: dict, raw_by_learner: dict, horizon: int, at) -> dict:
    """The naive rankers' scores of pairs `at` (all of horizon `horizon`), by rule name."""
    return {
        learner.rule(horizon): raw_by_learner[name][at]
        for name, learner in learners.items()
        if is_ranker(name)
    }


def _calibrated(
    learners,
    weights,
    timeframe,
    panel,
    validation: Pairs,
    raw_by_learner: dict,
    baselines,
    signals: list[str] | None = None,
):
    """The model of these per-horizon weights, calibrated on the validation predictions."""
    model = _model(learners, weights, timeframe, panel, no_evidence())
    if len(validation) >= MIN_CALIBRATION_PAIRS:
        at_horizon = validation.horizon - 1
        raw = sum(
            np.asarray(weight, dtype=float)[at_horizon] * raw_by_learner[name]
            for name, weight in horizon_weights(weights).items()
        )
        model.calibration = fit_calibration(
            z_of(panel, validation),
            validation.horizon,
            panel.returns(validation.row, validation.horizon),
            raw,
            panel.timestamp[validation.row],
            panel.last_return[validation.row],
            baselines.majority,
            baselines.drift,
            lambda h, at: ranker_scores(learners, raw_by_learner, h, at),
            signals,
        )
        fit_outperform(
            model.calibration,
            validation.horizon,
            raw,
            panel.returns(validation.row, validation.horizon),
            panel.timestamp[validation.row],
        )
    return model


def _validation_and_baselines(panel: Panel, fold: Fold, learners: dict):
    validation = pairs(
        panel,
        rows_between(panel, fold.validation_start, fold.test_start),
        fold.test_start,
        MAX_VALIDATION_PAIRS,
    )
    train = pairs(
        panel,
        rows_between(panel, panel.timestamp.min(), fold.validation_start),
        fold.validation_start,
        MAX_TRAIN_PAIRS,
    )  # for the drift and majority baselines
    rankers = {name: learner for name, learner in learners.items() if is_ranker(name)}
    return validation, TrainingBaselines.of(panel, train, rankers)


def _stacked(panel: Panel, validation: Pairs, raw: dict) -> Stacking:
    if len(validation) < MIN_CALIBRATION_PAIRS:
        return only("xgboost", "too few validation rows to choose")
    return stack(
        raw,
        panel.returns(validation.row, validation.horizon),
        panel.timestamp[validation.row],
        validation.horizon,
    )


def run_fold(panel: Panel, fold: Fold, timeframe: Timeframe, top: set) -> FoldResult:
    began = time.perf_counter()
    learners = fit_learners(panel, fold)
    fitted = time.perf_counter()
    validation, baselines = _validation_and_baselines(panel, fold, learners)
    raw = {
        name: learner.predict(
            panel.features, panel.series_start, validation.row, validation.horizon, panel.stride
        )
        for name, learner in learners.items()
    }
    stacking = _stacked(panel, validation, raw)
    calibrate = partial(
        _calibrated, learners, timeframe=timeframe, panel=panel, validation=validation,
        raw_by_learner=raw, baselines=baselines,
    )  # fmt: skip
    served = calibrate(stacking.weights, signals=stacking.chosen)
    alone = {"xgboost": [1.0] * MAX_STEPS}
    xgboost_alone = served if stacking.weights == alone else calibrate(alone)
    test = pairs(panel, rows_between(panel, fold.test_start, fold.test_end), None, MAX_TEST_PAIRS)
    result = FoldResult(fold, served, stacking, xgboost_alone, test, np.empty(0), learners)
    result.baselines = baselines
    if len(test):
        result.metrics, result.test_raw_z = measure(served, panel, test, baselines, top)
        record_test_ic(served, result.metrics)
        record_ranking(served, result.metrics)
        if xgboost_alone is not served:
            result.metrics["xgboost_alone"], _ = measure(xgboost_alone, panel, test, baselines, top)
    log.info(
        "%s %s: learners fitted in %.0f s, stacked, calibrated and measured in %.0f s; served %s",
        timeframe.code,
        fold.name,
        fitted - began,
        time.perf_counter() - fitted,
        stacking.summary,
    )
    return result


def universe_hash(tickers: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(tickers)).encode()).hexdigest()[:16]


def train_timeframe(
    store: CandleStore, tickers: list[str], timeframe: Timeframe, top: list[str] | None = None
) -> tuple[ForecastModel, list[FoldResult], Panel]:
    """Returns the served model (the latest fold's), every fold's result and the panel."""
    panel = build_panel(store, tickers, timeframe)
    top_set = set((top or tickers)[:50])
    folds = walk_forward_folds(panel)
    log.info(
        "%s: %d panel rows (every %d candle) over %d symbols, folds %s",
        timeframe.code,
        len(panel),
        panel.stride,
        len(set(panel.ticker)),
        [(str(f.validation_start), str(f.test_start), str(f.test_end)) for f in folds],
    )
    results = [run_fold(panel, fold, timeframe, top_set) for fold in folds]
    latest = results[-1]
    model = latest.model
    model.info = {
        "algorithm": "+".join(sorted(model.weights)),
        "served": latest.stacking.summary,
        "signal_by_horizon": latest.stacking.chosen,
        "ensemble_weights": latest.stacking.ensemble_weights,
        "validation_ic_by_candidate": latest.stacking.validation_ic,
        "n_symbols": len(set(panel.ticker)),
        "universe_size": len(tickers),
        "universe_hash": universe_hash(tickers),
        "row_stride": panel.stride,
        "market_benchmarks": dict(panel.market),
        "train_start": str(pd.Timestamp(panel.timestamp.min(), tz="UTC")),
        "train_end": str(pd.Timestamp(latest.fold.validation_start, tz="UTC")),
        "validation_end": str(pd.Timestamp(latest.fold.test_start, tz="UTC")),
        "test_start": str(pd.Timestamp(latest.fold.test_start, tz="UTC")),
        "data_end": str(pd.Timestamp(panel.timestamp.max(), tz="UTC")),
        "n_train_rows": int(np.sum(panel.timestamp < latest.fold.validation_start)),
        "top_features": top_features(latest),
        "metrics": {
            "skill_by_horizon": model.calibration.skill_table(),
            "test": latest.metrics,
            "folds": [
                {
                    "name": r.fold.name,
                    "test_start": str(pd.Timestamp(r.fold.test_start, tz="UTC")),
                    "test_end": str(pd.Timestamp(r.fold.test_end, tz="UTC")),
                    "served": r.stacking.summary,
                    **claims_of(r.model),
                    **{k: v for k, v in r.metrics.items() if k != "by_horizon"},
                }
                for r in results
            ],
        },
    }
    return model, results, panel


def top_features(result: FoldResult, k: int = 5) -> list[str]:
    importance = result.xgboost_alone.learners["xgboost"].importance()
    importance.pop("horizon", None)
    return [name for name, _ in sorted(importance.items(), key=lambda kv: -kv[1])[:k]]
