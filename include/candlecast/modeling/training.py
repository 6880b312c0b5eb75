"""Train one timeframe's forecaster across all symbols: purged time split, XGBoost, calibration."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.isotonic import IsotonicRegression

from candlecast.features import FEATURE_SET_VERSION, feature_columns
from candlecast.modeling.dataset import HorizonTable, build_table
from candlecast.modeling.evaluation import direction_of, evaluate
from candlecast.modeling.predictor import MAX_STEPS, Calibration, ForecastModel, design_matrix
from candlecast.store import CandleStore
from candlecast.timeframes import Timeframe

log = logging.getLogger(__name__)

TRAIN_FRACTION, CALIBRATION_FRACTION = 0.7, 0.15  # the rest is the held-out test window
MAX_TRAIN_ROWS = 400_000
Z_CLIP = 6.0
XGB_PARAMS = {
    "objective": "reg:squarederror",
    "tree_method": "hist",
    "max_depth": 4,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 20,
    "nthread": 2,
    "seed": 7,
}


@dataclass
class Splits:
    train_end: pd.Timestamp
    calibration_end: pd.Timestamp
    train: HorizonTable
    calibration: HorizonTable
    test: HorizonTable


def purged_splits(table: HorizonTable) -> Splits:
    """Time split where no training row's target window reaches into a later window."""
    stamps = np.unique(table.timestamp)
    train_end = stamps[int(len(stamps) * TRAIN_FRACTION)]
    calibration_end = stamps[int(len(stamps) * (TRAIN_FRACTION + CALIBRATION_FRACTION))]
    train = table.take(table.target_open < train_end)
    calibration = table.take((table.timestamp >= train_end) & (table.target_open < calibration_end))
    test = table.take(table.timestamp >= calibration_end)
    return Splits(
        pd.Timestamp(train_end, tz="UTC"),
        pd.Timestamp(calibration_end, tz="UTC"),
        train,
        calibration,
        test,
    )


def _subsample(table: HorizonTable, limit: int, seed: int = 7) -> HorizonTable:
    if len(table) <= limit:
        return table
    keep = np.zeros(len(table), dtype=bool)
    keep[np.random.default_rng(seed).choice(len(table), size=limit, replace=False)] = True
    return table.take(keep)


def _matrix(table: HorizonTable) -> xgb.DMatrix:
    return design_matrix(table.features, table.horizon, np.clip(table.z, -Z_CLIP, Z_CLIP))


MIN_CALIBRATION_ROWS = 20


def _per_horizon_quantiles(
    residual: np.ndarray, horizon: np.ndarray, levels: tuple[float, ...]
) -> np.ndarray:
    """Quantiles of residuals per horizon 1..30 (pooled where a horizon has < 30 rows)."""
    if len(residual) == 0:
        return np.tile(
            np.asarray([0.0 if q == 0.5 else 1.28 * np.sign(q - 0.5) for q in levels]),
            (MAX_STEPS, 1),
        )
    pooled = np.quantile(residual, levels)
    rows = []
    for h in range(1, MAX_STEPS + 1):
        at_h = residual[horizon == h]
        rows.append(np.quantile(at_h, levels) if len(at_h) >= 30 else pooled)
    return np.asarray(rows)


def fit_calibration(table: HorizonTable, predicted_z: np.ndarray, direction: bool) -> Calibration:
    """Per-horizon shrinkage, isotonic map |z| -> P(direction right), conformal 80 % bands.

    With direction=False (no out-of-sample rows to learn from) the confidence is a flat 0.5 and
    nothing is shrunk.
    """
    # No level bias is learned: a median residual fitted on one regime (a bull year, say) moves
    # every later forecast; shrinking toward no change is the safer correction.
    shrink = _shrinkage(table, predicted_z) if direction else np.ones(MAX_STEPS)
    corrected = shrink[table.horizon - 1] * predicted_z
    if direction:
        correct = (direction_of(corrected) == np.sign(table.log_return)).astype(float)
        iso = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(np.abs(corrected), correct)
        xs, ys = iso.X_thresholds_.tolist(), iso.y_thresholds_.tolist()
    else:  # no evidence either way
        xs, ys = [0.0, 1.0], [0.5, 0.5]
    bands = _per_horizon_quantiles(table.z - corrected, table.horizon, (0.1, 0.9))
    # Widened where needed so that the band always holds the point forecast.
    q10 = np.minimum(bands[:, 0], 0.0)
    q90 = np.maximum(bands[:, 1], 0.0)
    return Calibration(xs, ys, q10.tolist(), q90.tolist(), shrink.tolist())


SHRINK_GRID = np.linspace(0.0, 1.0, 11)


def _shrinkage(table: HorizonTable, point_z: np.ndarray) -> np.ndarray:
    """Per horizon, the factor in [0, 1] toward the current price (0 = random walk) that gives
    the least absolute error on the calibration window: no edge, no move."""
    pooled = _best_shrink(table.z, point_z)
    factors = []
    for h in range(1, MAX_STEPS + 1):
        at_h = table.horizon == h
        factors.append(_best_shrink(table.z[at_h], point_z[at_h]) if at_h.sum() >= 30 else pooled)
    return np.asarray(factors)


def _best_shrink(actual: np.ndarray, predicted: np.ndarray) -> float:
    errors = [np.mean(np.abs(actual - k * predicted)) for k in SHRINK_GRID]
    return float(SHRINK_GRID[int(np.argmin(errors))])


def train_timeframe(store: CandleStore, tickers: list[str], timeframe: Timeframe) -> ForecastModel:
    table = build_table(store, tickers, timeframe)
    splits = purged_splits(table)
    if len(splits.train) == 0:
        raise ValueError(f"{timeframe.code}: no training rows survive the purged split")
    train = _subsample(splits.train, MAX_TRAIN_ROWS)
    log.info(
        "%s: %d train / %d calibration / %d test rows over %d symbols",
        timeframe.code,
        len(train),
        len(splits.calibration),
        len(splits.test),
        len(tickers),
    )
    evals = [(_matrix(splits.calibration), "calibration")] if len(splits.calibration) else []
    booster = xgb.train(
        XGB_PARAMS,
        _matrix(train),
        num_boost_round=400,
        evals=evals,
        early_stopping_rounds=30 if evals else None,
        verbose_eval=False,
    )
    if evals:
        booster = booster[: booster.best_iteration + 1]
    out_of_sample = len(splits.calibration) >= MIN_CALIBRATION_ROWS
    fitted_on = splits.calibration if out_of_sample else train
    raw_z = booster.predict(design_matrix(fitted_on.features, fitted_on.horizon))
    calibration = fit_calibration(fitted_on, raw_z, direction=out_of_sample)
    model = ForecastModel(
        booster, timeframe.code, feature_columns(timeframe), FEATURE_SET_VERSION, calibration
    )
    test = splits.test
    metrics: dict = {"test": {"n": 0}}
    if len(test):
        z_hat = model.point_z(test.features, test.horizon)
        scale = test.sigma * np.sqrt(test.horizon)
        q10 = np.asarray(model.calibration.residual_q10)[test.horizon - 1]
        q90 = np.asarray(model.calibration.residual_q90)[test.horizon - 1]
        metrics["test"] = evaluate(
            test.timestamp,
            test.horizon,
            test.log_return,
            z_hat * scale,
            model.calibration.direction_probability(np.abs(z_hat)),
            test.features["ret_1"].to_numpy(),
            (z_hat + q10) * scale,
            (z_hat + q90) * scale,
        )
    model.info = {
        "algorithm": "xgboost",
        "n_symbols": len(set(table.ticker)),
        "n_train_rows": len(train),
        "n_calibration_rows": len(splits.calibration),
        "n_test_rows": len(test),
        "calibrated_on": "validation"
        if out_of_sample
        else "none: too few validation rows, "
        "confidence fixed at 0.5, bands from training residuals",
        "train_start": str(pd.Timestamp(table.timestamp.min(), tz="UTC")),
        "train_end": str(splits.train_end),
        "test_start": str(splits.calibration_end),
        "data_end": str(pd.Timestamp(table.timestamp.max(), tz="UTC")),
        "best_iteration": int(getattr(booster, "best_iteration", booster.num_boosted_rounds() - 1)),
        "metrics": metrics,
    }
    return model
