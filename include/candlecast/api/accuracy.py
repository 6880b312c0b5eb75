"""Live accuracy as the API shows it: rows of `outcome_rolling` (written by the
`score_outcomes` DAG), filtered by timeframe, version, horizon bucket, day range and window."""

from __future__ import annotations

from datetime import datetime

import psycopg

from candlecast.api.requests import AccuracyRequest
from candlecast.api.schemas import AccuracyReport, AccuracyRow

NO_OUTCOMES = (
    "no scored forecast matches: outcomes appear once forecast target candles have closed and "
    "the score_outcomes DAG has run"
)
ROWS = """
    SELECT r.timeframe, m.name || ':' || m.version AS model, m.stage, r.horizon, r.day, r.window_days,
           r.n, r.predictions, r.coins, r.figures
    FROM outcome_rolling r JOIN models m ON m.id = r.model_id
    WHERE r.window_days = %(window)s
      AND (%(tf)s::text IS NULL OR r.timeframe = %(tf)s)
      AND (%(model)s::text IS NULL OR m.name || ':' || m.version = %(model)s)
      AND (%(horizon)s::text IS NULL OR r.horizon = %(horizon)s)
      AND (%(start)s::date IS NULL OR r.day >= %(start)s)
      AND (%(end)s::date IS NULL OR r.day <= %(end)s)
      AND (%(ranged)s OR r.day = (SELECT max(x.day) FROM outcome_rolling x
                                  WHERE x.model_id = r.model_id AND x.window_days = r.window_days))
    ORDER BY r.timeframe, r.day DESC, model,
             array_position(ARRAY['h1', 'h6', 'h30', 'all'], r.horizon)
"""


def accuracy_from_tables(
    conn: psycopg.Connection, request: AccuracyRequest, as_of: datetime
) -> AccuracyReport:
    params = request.model_dump()
    rows = conn.execute(
        ROWS,
        {
            "window": params["window_days"],
            "tf": params["timeframe"],
            "model": params["model"].lower() if params["model"] else None,
            "horizon": params["horizon"],
            "start": params["start"],
            "end": params["end"],
            "ranged": bool(params["start"] or params["end"]),
        },
    ).fetchall()
    if not rows:
        return AccuracyReport(as_of=as_of, rows=[], note=NO_OUTCOMES)
    return AccuracyReport(as_of=as_of, rows=[_row(r) for r in rows])


def _row(row: dict) -> AccuracyRow:
    figures = row["figures"]
    return AccuracyRow(
        timeframe=row["timeframe"],
        model=row["model"],
        stage=row["stage"],
        horizon=row["horizon"],
        day=row["day"],
        window_days=row["window_days"],
        predictions=row["predictions"],
        n=row["n"],
        coins=row["coins"],
        calls=figures.get("calls"),
        direction_accuracy=figures.get("direction_accuracy"),
        direction_accuracy_ci95=figures.get("direction_accuracy_ci95"),
        mae_ratio_to_random_walk=figures.get("mae_ratio_to_random_walk"),
        mae_ratio_ci95=figures.get("mae_ratio_ci95"),
        interval_80_coverage=figures.get("interval80_coverage"),
        interval_80_coverage_ci95=figures.get("interval80_coverage_ci95"),
        ece=figures.get("ece"),
        rank_ic=figures.get("rank_ic"),
        test={k: v for k, v in (figures.get("test") or {}).items() if v is not None},
    )
