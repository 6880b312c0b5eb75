"""Rolling figures per model version × horizon bucket (h1, h6, h30, all) × UTC day × trailing
window (1, 7, 30 days), from `prediction_outcomes` into `outcome_rolling`, each beside the
version's own test-window figure. Intervals are moving-block bootstraps over target times
(coins moving together and overlapping horizons stay together), as in training's evaluation;
a window with too few target times has none."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
import psycopg

from candlecast.modeling.training.evaluation import (
    block_bootstrap_ci,
    expected_calibration_error,
    ic_by_timestamp,
)

HORIZONS = {"h1": (1,), "h6": (6,), "h30": (30,), "all": tuple(range(1, 31))}
WINDOWS = (1, 7, 30)
TEST_FIGURES = (
    "direction_accuracy", "direction_accuracy_ci95", "mae_ratio_to_random_walk",
    "mae_ratio_ci95", "interval80_coverage", "ece", "rank_ic",
)  # fmt: skip

OUTCOMES = """
    SELECT o.prediction_id, o.step, o.model_id, o.symbol_id, o.timeframe, o.target_at,
           o.closed_at, o.last_close, o.predicted_close, o.actual_close, o.confidence, o.hit,
           o.log_error, o.random_walk_error, o.inside_80
    FROM prediction_outcomes o
    WHERE o.model_id = ANY(%(models)s) AND o.closed_at >= %(start)s AND o.closed_at < %(end)s
"""

UPSERT = """
    INSERT INTO outcome_rolling AS r (model_id, timeframe, horizon, day, window_days, n,
                                      predictions, coins, figures)
    SELECT x.* FROM jsonb_to_recordset(%s::jsonb) AS x(
        model_id bigint, timeframe text, horizon text, day date, window_days smallint,
        n integer, predictions integer, coins integer, figures jsonb)
    ON CONFLICT (model_id, horizon, window_days, day) DO UPDATE SET
        n = EXCLUDED.n, predictions = EXCLUDED.predictions, coins = EXCLUDED.coins,
        figures = EXCLUDED.figures, computed_at = now()
    WHERE (r.n, r.predictions, r.coins, r.figures)
          IS DISTINCT FROM (EXCLUDED.n, EXCLUDED.predictions, EXCLUDED.coins, EXCLUDED.figures)
"""


def ic_groups(outcomes: pd.DataFrame) -> pd.Series:
    """Rank IC across coins per (target time, step) with enough coins, indexed like that; a
    group lies within one close day and one step, so every cell takes whole groups of it."""
    stamps = pd.DatetimeIndex(outcomes["target_at"]).as_unit("ns").asi8
    key = stamps * 31 + outcomes["step"].to_numpy(np.int64)
    predicted = np.log(outcomes["predicted_close"].to_numpy(float) / outcomes["last_close"])
    actual = np.log(outcomes["actual_close"].to_numpy(float) / outcomes["last_close"])
    keys, ic = ic_by_timestamp(key, predicted.to_numpy(), actual.to_numpy())
    return pd.Series(ic, index=keys)


def _ic_summary(ic: pd.Series) -> dict:
    """As training's rank_ic: the mean with a moving-block interval over the groups."""
    if len(ic) < 2:
        return {"rank_ic": None, "rank_ic_ci95": None, "ic_periods": int(len(ic))}
    values = ic.to_numpy(float)
    return {
        "rank_ic": float(values.mean()),
        "rank_ic_ci95": block_bootstrap_ci(ic.index.to_numpy(), values, np.ones(len(values))),
        "ic_periods": int(len(values)),
    }


def figures(outcomes: pd.DataFrame, ic: pd.Series | None = None) -> dict:
    """Live figures of a set of outcomes (none of them empty); `ic`: their groups' rank ICs
    when already computed (`ic_groups`)."""
    stamps = pd.DatetimeIndex(outcomes["target_at"]).as_unit("ns").asi8
    moved = outcomes["hit"].notna().to_numpy()
    hit = outcomes["hit"].fillna(False).astype(bool).to_numpy()
    error = np.abs(outcomes["log_error"].to_numpy(float))
    random_walk = np.abs(outcomes["random_walk_error"].to_numpy(float))
    inside = outcomes["inside_80"].astype(bool).to_numpy(float)
    confidence = outcomes["confidence"].to_numpy(float)
    ic = _ic_summary(ic_groups(outcomes) if ic is None else ic)
    return _clean(
        {
            "calls": int(moved.sum()),  # steps that named a side and whose price moved
            "direction_accuracy": float(hit[moved].mean()) if moved.any() else None,
            "direction_accuracy_ci95": block_bootstrap_ci(stamps, hit * moved, moved.astype(float))
            if moved.any()
            else None,
            "mae_ratio_to_random_walk": float(error.sum() / random_walk.sum())
            if random_walk.sum() > 0
            else None,
            "mae_ratio_ci95": block_bootstrap_ci(stamps, error, random_walk),
            "interval80_coverage": float(inside.mean()),
            "interval80_coverage_ci95": block_bootstrap_ci(stamps, inside, np.ones(len(inside))),
            "ece": expected_calibration_error(confidence[moved], hit[moved].astype(float))
            if moved.any()
            else None,
            "mean_confidence": float(confidence.mean()),
            "rank_ic": ic["rank_ic"],
            "rank_ic_ci95": ic["rank_ic_ci95"],
            "ic_periods": ic["ic_periods"],
        }
    )


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_clean(v) for v in value]
        return None if all(v is None for v in items) else items
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def test_window_figures(conn: psycopg.Connection, model_ids: Iterable[int]) -> dict[int, dict]:
    """model id → bucket → the version's recorded test-window figures."""
    rows = conn.execute(
        "SELECT id, metrics -> 'test' AS test FROM models WHERE id = ANY(%s)", (list(model_ids),)
    ).fetchall()
    return {
        r["id"]: {
            bucket: {k: (r["test"] or {}).get(bucket, {}).get(k) for k in TEST_FIGURES}
            for bucket in HORIZONS
        }
        for r in rows
    }


def rolling_rows(
    outcomes: pd.DataFrame, days: Iterable[pd.Timestamp], tests: dict[int, dict]
) -> list[dict]:
    """One row per model, horizon bucket, window and day that has outcomes."""
    outcomes = outcomes.assign(
        day=outcomes["closed_at"].dt.tz_convert("UTC").dt.normalize(),
        ic_key=pd.DatetimeIndex(outcomes["target_at"]).as_unit("ns").asi8 * 31
        + outcomes["step"].to_numpy(np.int64),
    )
    rows = []
    for model_id, by_model in outcomes.groupby("model_id"):
        model_ic = ic_groups(by_model)
        for day in sorted(set(days)):
            for window in WINDOWS:
                start = day - pd.Timedelta(days=window - 1)
                in_window = by_model[(by_model["day"] >= start) & (by_model["day"] <= day)]
                for bucket, steps in HORIZONS.items():
                    group = in_window[in_window["step"].isin(steps)]
                    if group.empty:
                        continue
                    rows.append(
                        {
                            "model_id": int(model_id),
                            "timeframe": group["timeframe"].iloc[0],
                            "horizon": bucket,
                            "day": str(day.date()),
                            "window_days": window,
                            "n": len(group),
                            "predictions": int(group["prediction_id"].nunique()),
                            "coins": int(group["symbol_id"].nunique()),
                            "figures": figures(
                                group, model_ic[model_ic.index.isin(group["ic_key"].unique())]
                            )
                            | {"test": tests.get(int(model_id), {}).get(bucket, {})},
                        }
                    )
    return rows


def refresh_rolling(
    conn: psycopg.Connection, touched: set[tuple[int, pd.Timestamp]], today: pd.Timestamp
) -> int:
    """Recompute every row an outcome of `touched` (model id, close day) is part of: its day
    and the next 29 (up to `today`). Returns the rows written (none when nothing changed)."""
    if not touched:
        return 0
    today = today.tz_convert("UTC").normalize()
    days = {
        day + pd.Timedelta(days=k)
        for _, day in touched
        for k in range(max(WINDOWS))
        if day + pd.Timedelta(days=k) <= today
    }
    if not days:
        return 0
    models = sorted({m for m, _ in touched})
    frame = pd.DataFrame(
        conn.execute(
            OUTCOMES,
            {
                "models": models,
                "start": min(days) - pd.Timedelta(days=max(WINDOWS) - 1),
                "end": max(days) + pd.Timedelta(days=1),
            },
        ).fetchall()
    )
    if frame.empty:
        return 0
    for column in ("target_at", "closed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    rows = rolling_rows(frame, days, test_window_figures(conn, models))
    if not rows:
        return 0
    return conn.execute(UPSERT, (json.dumps(rows),)).rowcount
