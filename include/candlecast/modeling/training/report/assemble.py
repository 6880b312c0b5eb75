"""From a training run to its report: figures, calibration, examples, paper trading, notes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from candlecast.modeling.confidence import sides
from candlecast.modeling.predictor import ForecastModel
from candlecast.modeling.training.dataset import Panel
from candlecast.modeling.training.evaluation import REPORT_HORIZONS
from candlecast.modeling.training.fit import FoldResult
from candlecast.ohlcv import CandleStore
from candlecast.timeframes import MAX_STEPS, Timeframe

TIME_EXIT_CANDLES = 24  # the rules' 24 h exit on hourly candles, as 24 candles of any timeframe
SIGNAL_HORIZON = TIME_EXIT_CANDLES
N_EXAMPLES = 3
HISTORY_CANDLES = 60


def paper_trading_signals(model: ForecastModel, panel: Panel, rows: np.ndarray) -> pd.DataFrame:
    horizon = np.full(len(rows), min(SIGNAL_HORIZON, MAX_STEPS))
    raw = model.raw_z(panel.features, panel.series_start, rows, horizon, panel.stride)
    direction, confidence = sides(model.calibration.probability_up(raw, horizon))
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(panel.timestamp[rows]).tz_localize("UTC"),
            "ticker": panel.ticker[rows],
            "direction": direction,
            "confidence": confidence,
        }
    )


def run_paper_trading(
    store: CandleStore, timeframe: Timeframe, model: ForecastModel, panel: Panel, latest: FoldResult
) -> dict | None:
    from candlecast.modeling.paper_trading import paper_trade

    rows = np.unique(latest.test.row)
    if len(rows) == 0:
        return None
    signals = paper_trading_signals(model, panel, rows)
    start = signals["timestamp"].min()
    candles = {}
    for ticker in signals["ticker"].unique():
        frame = store.read(ticker, timeframe)
        candles[ticker] = frame[frame["timestamp"] >= start].reset_index(drop=True)
    result = paper_trade(signals, candles, time_exit_candles=TIME_EXIT_CANDLES)
    return result.as_dict() | {
        "window_start": str(start),
        "signal_horizon": SIGNAL_HORIZON,
        "time_exit": f"{TIME_EXIT_CANDLES} candles of {timeframe.code}",
    }


def _calibration(model: ForecastModel, panel: Panel, latest: FoldResult) -> dict:
    from candlecast.modeling.training.evaluation import calibration_curve

    test = latest.test
    if len(test) == 0:
        return {}
    actual = panel.returns(test.row, test.horizon)
    direction, confidence = sides(model.calibration.probability_up(latest.test_raw_z, test.horizon))
    correct = (np.where(direction == "up", 1.0, -1.0) == np.sign(actual)).astype(float)
    return calibration_curve(confidence, correct)


def _examples(
    store: CandleStore, timeframe: Timeframe, model: ForecastModel, panel: Panel, latest
) -> list[dict]:
    test_rows = np.unique(latest.test.row)
    complete = test_rows[~np.isnan(panel.forward[test_rows]).any(axis=1)]
    examples = []
    for ticker in pd.unique(panel.ticker[complete])[:N_EXAMPLES]:
        row = complete[panel.ticker[complete] == ticker][-1]
        candles = store.read(ticker, timeframe)
        stamps = candles["timestamp"].to_numpy(dtype="datetime64[ms]")
        at = int(np.searchsorted(stamps, panel.timestamp[row]))
        history = candles.iloc[max(0, at - HISTORY_CANDLES + 1) : at + 1]
        raw = model.raw_z(
            panel.features,
            panel.series_start,
            np.full(MAX_STEPS, row),
            np.arange(1, MAX_STEPS + 1),
            panel.stride,
        )
        path = model.path_from_raw(raw, float(panel.sigma[row]), history)
        future = candles.iloc[at + 1 : at + 1 + MAX_STEPS]
        examples.append(
            {
                "ticker": ticker,
                "history_time": history["timestamp"].tolist(),
                "history_close": history["close"].tolist(),
                "forecast_time": future["timestamp"].tolist(),
                "forecast_close": path["close"].tolist(),
                "low_80": path["close_low_80"].tolist(),
                "high_80": path["close_high_80"].tolist(),
                "actual_close": future["close"].tolist(),
            }
        )
    return examples


def _interval(figures: dict, key: str) -> tuple[float, float] | None:
    low_high = figures.get(key)
    if not low_high or any(v is None or not np.isfinite(v) for v in low_high):
        return None
    return float(low_high[0]), float(low_high[1])


def notes_for(metrics: dict, served: str) -> list[str]:
    """Plain-language verdicts from the latest test window's figures."""
    notes = [f"Served: {served}, chosen on the validation window, never on the test window."]
    for h in REPORT_HORIZONS:
        figures = metrics.get(f"h{h}", {})
        if not figures.get("n"):
            notes.append(f"h{h}: no test rows, nothing measured.")
            continue
        mae = _interval(figures, "mae_ratio_ci95")
        if mae is None:
            notes.append(f"h{h}: too short a test window for an interval on the MAE ratio.")
        elif mae[0] > 1:
            notes.append(
                f"h{h}: WORSE than the random walk in MAE (95 % CI {mae[0]:.3f}–{mae[1]:.3f})."
            )
        elif mae[1] < 1:
            notes.append(f"h{h}: beats the random walk in MAE (95 % CI {mae[0]:.3f}–{mae[1]:.3f}).")
        else:
            notes.append(
                f"h{h}: no measurable edge over the random walk (MAE ratio CI {mae[0]:.3f}–"
                f"{mae[1]:.3f} contains 1)."
            )
        coverage = figures.get("interval80_coverage")
        if coverage is not None and abs(coverage - 0.8) > 0.02:
            notes.append(f"h{h}: the 80 % band covered {coverage:.1%} out of sample.")
    return notes


def _rankers_by_horizon(model: ForecastModel, latest: FoldResult) -> dict:
    """Per horizon, the served signal's rank IC beside the best naive ranker's: on validation
    (what chose and claimed) and on the latest test window (only measured)."""
    table = latest.metrics.get("by_horizon", {})
    evidence = model.calibration.skill_table()
    return {
        "horizon": [row["horizon"] for row in evidence],
        "signal": [row.get("signal") for row in evidence],
        "validation_ic": [row.get("rank_ic") for row in evidence],
        "validation_naive_ic": [row.get("best_naive_ranker_ic") for row in evidence],
        "validation_naive": [row.get("best_naive_ranker") for row in evidence],
        "relative_skill": [row.get("relative_skill") == "validated" for row in evidence],
        "test_horizon": list(table.get("horizon", [])),
        "test_ic": list(table.get("rank_ic", [])),
        "test_naive_ic": list(table.get("best_naive_ranker_ic", [])),
        "test_naive": list(table.get("best_naive_ranker", [])),
    }


def report_writer(
    store: CandleStore,
    timeframe: Timeframe,
    model: ForecastModel,
    folds: list[FoldResult],
    panel: Panel,
    paper_trading: dict | None,
) -> Callable[[Path, str], None]:
    """A function that writes this training run's report to a path under a title (the tag)."""

    def write(path: Path, title: str) -> None:
        from candlecast.modeling.training.report.html import ReportInput, write_report

        latest = folds[-1]
        summary = {k: v for k, v in model.info.items() if k != "metrics"}
        report_folds = []
        for result in folds:
            groups = {k: v for k, v in result.metrics.items() if k.startswith("h") or k == "all"}
            report_folds.append(
                {
                    "name": f"{result.fold.name} ({result.stacking.summary})",
                    "test_start": str(pd.Timestamp(result.fold.test_start, tz="UTC")),
                    "test_end": str(pd.Timestamp(result.fold.test_end, tz="UTC")),
                    "horizons": groups
                    | {k: result.metrics[k] for k in ("top50", "rest") if k in result.metrics},
                }
            )
            alone = result.metrics.get("xgboost_alone")
            if alone:
                report_folds.append(
                    {
                        "name": f"{result.fold.name} (XGBoost alone, for comparison)",
                        "test_start": str(pd.Timestamp(result.fold.test_start, tz="UTC")),
                        "test_end": str(pd.Timestamp(result.fold.test_end, tz="UTC")),
                        "horizons": {k: v for k, v in alone.items() if k != "by_horizon"},
                    }
                )
        importance = latest.xgboost_alone.learners["xgboost"].importance()
        write_report(
            path,
            ReportInput(
                title=title,
                timeframe=timeframe.code,
                summary=summary,
                skill=model.calibration.skill_table(),
                folds=report_folds,
                accuracy_by_horizon=latest.metrics.get("by_horizon", {}),
                rankers_by_horizon=_rankers_by_horizon(model, latest),
                calibration=_calibration(model, panel, latest),
                examples=_examples(store, timeframe, model, panel, latest),
                feature_importance=importance,
                paper_trading=paper_trading,
                notes=notes_for(latest.metrics, latest.stacking.summary),
            ),
        )

    return write
