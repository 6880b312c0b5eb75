"""Drift: a served version whose live figures (the trailing window of all horizons) say it
degraded. At most one alert per version per UTC day (`drift_alerts`, claimed by INSERT before
sending, so concurrent runs cannot both send)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import psycopg

COVERAGE_BAND = (0.70, 0.90)

LATEST_ROWS = """
    SELECT r.model_id, m.name || ':' || m.version AS model, m.stage, r.timeframe, r.n, r.figures
    FROM outcome_rolling r JOIN models m ON m.id = r.model_id
    WHERE r.day = %(day)s AND r.window_days = %(window)s AND r.horizon = 'all'
"""


@dataclass(frozen=True)
class DriftRules:
    min_outcomes: int = 200
    window_days: int = 7


def counted(n: int, calls: int | None) -> str:
    """What a live direction figure rests on: its calls among the outcomes (rows written before
    calls were counted say outcomes only)."""
    return f"{n} outcomes" if calls is None else f"{calls} calls of {n} outcomes"


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _interval(figures: dict, key: str) -> str:
    ci = figures.get(key)
    return f" [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else " (no interval)"


def drift_reasons(n: int, figures: dict, rules: DriftRules) -> list[str]:
    """Why a version's live figures count as drift (empty: they do not)."""
    if n < rules.min_outcomes:
        return []
    reasons = []
    test = figures.get("test") or {}
    accuracy = figures.get("direction_accuracy")
    acc_ci = figures.get("direction_accuracy_ci95")
    mae = figures.get("mae_ratio_to_random_walk")
    mae_ci = figures.get("mae_ratio_ci95")
    coverage = figures.get("interval80_coverage")
    acc_text = f"direction accuracy {_fmt(accuracy)}{_interval(figures, 'direction_accuracy_ci95')}"
    mae_text = f"MAE {_fmt(mae)}× the random walk's{_interval(figures, 'mae_ratio_ci95')}"
    if accuracy is not None and accuracy < 0.5 and acc_ci and acc_ci[1] < 0.5:
        reasons.append(f"{acc_text}: below 0.5 over {counted(n, figures.get('calls'))}")
    if mae_ci and mae_ci[0] > 1.0:
        reasons.append(f"{mae_text}: significantly worse than the random walk")
    if coverage is not None and not COVERAGE_BAND[0] <= coverage <= COVERAGE_BAND[1]:
        reasons.append(f"80 % band coverage {coverage:.1%}: outside 70–90 %")
    test_accuracy, test_mae = test.get("direction_accuracy"), test.get("mae_ratio_to_random_walk")
    if accuracy is not None and acc_ci and test_accuracy is not None and acc_ci[1] < test_accuracy:
        reasons.append(f"{acc_text}: significantly below the test window's {test_accuracy:.3f}")
    if mae_ci and test_mae is not None and mae_ci[0] > test_mae:
        reasons.append(f"{mae_text}: significantly above the test window's {test_mae:.3f}")
    return reasons


def check_drift(
    conn: psycopg.Connection,
    today: pd.Timestamp,
    rules: DriftRules,
    alert: Callable[[str, list[str]], None],
) -> list[dict]:
    """Alert each drifting version not yet alerted today; returns the drifting versions."""
    day = today.tz_convert("UTC").normalize().date()
    rows = conn.execute(LATEST_ROWS, {"day": day, "window": rules.window_days}).fetchall()
    drifting = []
    for row in rows:
        reasons = drift_reasons(row["n"], row["figures"], rules)
        if not reasons:
            continue
        claimed = conn.execute(
            "INSERT INTO drift_alerts (model_id, day, reasons) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING model_id",
            (row["model_id"], day, json.dumps(reasons)),
        ).fetchone()
        drifting.append(
            {
                "model": row["model"],
                "stage": row["stage"],
                "reasons": reasons,
                "alerted": bool(claimed),
            }
        )
        if claimed:
            conn.commit()  # the claim is durable before the message leaves
            alert(
                f"drift: {row['model']} ({row['timeframe']} {row['stage']}) on {day}",
                [*reasons, f"live window: the {rules.window_days} days to {day}, n={row['n']}"],
            )
    return drifting
