"""The live gate's evidence: a challenger's shadow forecasts against the champion's forecasts of
the same requests (a shadow names the champion forecast it shadows, `shadow_of`), step by step
on the same target candles, once both are scored in `prediction_outcomes`.

Two paired differences, challenger minus champion, each with its 95 % moving-block bootstrap
interval over target times (`block_bootstrap_ci`, as training's gate and the rolling figures):

- **direction accuracy** over the steps where both named a side (a step at confidence 0.5 is no
  call, `hit` NULL, and so is a step whose price did not move): the mean of hit − hit;
- **rank IC**: per (target time, step) with at least 3 coins scored by both, the challenger's
  Spearman correlation across coins minus the champion's; their mean.

The verdict: `accumulating` below `min_outcomes` paired outcomes (or while either interval
cannot be formed yet), `worse` when either interval lies wholly below 0 (measurably worse),
else `pass`. Nothing here changes a stage (`live_release` does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

from candlecast.modeling.training.evaluation import block_bootstrap_ci, ic_by_timestamp

PAIRED = """
    SELECT so.target_at, so.step, so.symbol_id, so.last_close, so.actual_close,
           so.predicted_close AS new_close, co.predicted_close AS old_close,
           so.hit AS new_hit, co.hit AS old_hit
    FROM predictions s
    JOIN predictions c ON c.id = s.shadow_of
    JOIN prediction_outcomes so ON so.prediction_id = s.id
    JOIN prediction_outcomes co ON co.prediction_id = c.id AND co.step = so.step
    WHERE s.shadow AND s.model_id = %(challenger)s AND c.model_id = %(champion)s
      AND so.closed_at <= %(now)s
"""


@dataclass(frozen=True)
class LiveGateRules:
    min_outcomes: int = 3000
    max_days: float = 14.0


def paired_outcomes(
    conn: psycopg.Connection, challenger_id: int, champion_id: int, now: pd.Timestamp
) -> pd.DataFrame:
    frame = pd.DataFrame(
        conn.execute(
            PAIRED, {"challenger": challenger_id, "champion": champion_id, "now": now}
        ).fetchall()
    )
    if not frame.empty:
        frame["target_at"] = pd.to_datetime(frame["target_at"], utc=True)
    return frame


def _interval(stamps, values) -> list[float] | None:
    low, high = block_bootstrap_ci(np.asarray(stamps), np.asarray(values), np.ones(len(values)))
    return None if np.isnan(low) else [round(low, 6), round(high, 6)]


def direction_difference(pairs: pd.DataFrame) -> dict:
    """Challenger minus champion over the steps both called."""
    both = pairs["new_hit"].notna() & pairs["old_hit"].notna()
    called = pairs[both]
    if called.empty:
        return {"calls": 0, "difference": None, "ci95": None}
    new, old = called["new_hit"].astype(float), called["old_hit"].astype(float)
    return {
        "calls": int(len(called)),
        "challenger": round(float(new.mean()), 6),
        "champion": round(float(old.mean()), 6),
        "difference": round(float((new - old).mean()), 6),
        "ci95": _interval(called["target_at"].to_numpy("datetime64[ns]"), (new - old).to_numpy()),
    }


def rank_ic_difference(pairs: pd.DataFrame) -> dict:
    """Challenger minus champion of the rank IC across coins per (target time, step)."""
    key = pd.DatetimeIndex(pairs["target_at"]).as_unit("ns").asi8 * 31 + pairs["step"].to_numpy(
        np.int64
    )
    last = pairs["last_close"].to_numpy(float)
    actual = np.log(pairs["actual_close"].to_numpy(float) / last)
    new_keys, new_ic = ic_by_timestamp(
        key, np.log(pairs["new_close"].to_numpy(float) / last), actual
    )
    old_keys, old_ic = ic_by_timestamp(
        key, np.log(pairs["old_close"].to_numpy(float) / last), actual
    )
    gap = pd.Series(new_ic, new_keys).sub(pd.Series(old_ic, old_keys)).dropna()
    if len(gap) < 2:
        return {"groups": int(len(gap)), "difference": None, "ci95": None}
    return {
        "groups": int(len(gap)),
        "difference": round(float(gap.mean()), 6),
        "ci95": _interval(gap.index.to_numpy(), gap.to_numpy()),
    }


def verdict(n: int, direction: dict, rank_ic: dict, rules: LiveGateRules) -> tuple[str, list[str]]:
    """`accumulating`, `worse` or `pass`, with the reasons."""
    if n < rules.min_outcomes:
        return "accumulating", [f"{n} of {rules.min_outcomes} paired outcomes scored"]
    missing = [
        name
        for name, figure in (("direction accuracy", direction), ("rank IC", rank_ic))
        if figure["ci95"] is None
    ]
    if missing:
        return "accumulating", [f"no interval yet for {', '.join(missing)} (too few target times)"]
    worse = [
        f"{name} lower by {figure['difference']:+.4f} "
        f"[{figure['ci95'][0]:+.4f}, {figure['ci95'][1]:+.4f}]"
        for name, figure in (("direction accuracy", direction), ("rank IC", rank_ic))
        if figure["ci95"][1] < 0
    ]
    if worse:
        return "worse", worse
    return "pass", [
        f"{name} {figure['difference']:+.4f} [{figure['ci95'][0]:+.4f}, {figure['ci95'][1]:+.4f}]"
        " not below the champion's"
        for name, figure in (("direction accuracy", direction), ("rank IC", rank_ic))
    ]


def evidence(
    conn: psycopg.Connection,
    challenger: dict,
    champion: dict,
    rules: LiveGateRules,
    now: pd.Timestamp,
) -> dict:
    """The live comparison of `challenger` (a models row: id, tag, stage_changed_at) with the
    `champion` row, as of `now`: what /models, the CLI, the DAG and the reports show."""
    pairs = paired_outcomes(conn, challenger["id"], champion["id"], now)
    empty = {"difference": None, "ci95": None}
    direction = direction_difference(pairs) if not pairs.empty else {"calls": 0, **empty}
    rank_ic = rank_ic_difference(pairs) if not pairs.empty else {"groups": 0, **empty}
    decided, reasons = verdict(len(pairs), direction, rank_ic, rules)
    since = pd.Timestamp(challenger["stage_changed_at"]).tz_convert("UTC")
    return {
        "champion": champion["tag"],
        "n": int(len(pairs)),
        "min_outcomes": rules.min_outcomes,
        "target_times": int(pairs["target_at"].nunique()) if not pairs.empty else 0,
        "direction_accuracy": direction,
        "rank_ic": rank_ic,
        "verdict": decided,
        "reasons": reasons,
        "decide_by": (since + pd.Timedelta(days=rules.max_days)).isoformat(),
        "evaluated_at": now.isoformat(),
    }
