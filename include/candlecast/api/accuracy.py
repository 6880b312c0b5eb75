"""Live accuracy as the API shows it: rows of `outcome_rolling` (written by the
`score_outcomes` DAG), filtered by timeframe, version, horizon bucket, day range and window."""

from __future__ import annotations

from datetime import datetime

import psycopg

from candlecast.api.requests import AccuracyRequest
from candlecast.api.schemas import AccuracyReport, AccuracyRow, RankingAccuracyRow

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


RANKINGS = """
    SELECT o.timeframe, m.name || ':' || m.version AS model, o.horizon,
           (o.closed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS rankings,
           avg(o.coins)::float8 AS coins, avg(o.rank_ic) AS rank_ic, avg(o.spread) AS spread
    FROM ranking_outcomes o JOIN models m ON m.id = o.model_id
    WHERE (%(tf)s::text IS NULL OR o.timeframe = %(tf)s)
      AND (%(model)s::text IS NULL OR m.name || ':' || m.version = %(model)s)
      AND (%(horizon)s::int IS NULL OR o.horizon = %(horizon)s)
      AND (%(start)s::date IS NULL OR (o.closed_at AT TIME ZONE 'UTC')::date >= %(start)s)
      AND (%(end)s::date IS NULL OR (o.closed_at AT TIME ZONE 'UTC')::date <= %(end)s)
    GROUP BY 1, 2, 3, 4
    ORDER BY o.timeframe, day DESC, model, o.horizon
"""
HORIZON_STEPS = {"h1": 1, "h6": 6, "h30": 30}


def ranking_rows(conn: psycopg.Connection, params: dict, fee: float) -> list[RankingAccuracyRow]:
    """Scored rankings per timeframe, version, horizon and day (each version's newest day
    without start and end), their spread also net of `fee` a side (four sides: both legs
    opened and closed)."""
    rows = conn.execute(
        RANKINGS, params | {"horizon": HORIZON_STEPS.get(params["horizon"])}
    ).fetchall()
    if not params["ranged"]:
        newest: dict[tuple, object] = {}
        for r in rows:
            newest[(r["timeframe"], r["model"])] = max(
                r["day"], newest.get((r["timeframe"], r["model"]), r["day"])
            )
        rows = [r for r in rows if r["day"] == newest[(r["timeframe"], r["model"])]]
    return [
        RankingAccuracyRow(
            **r,
            spread_net=None if r["spread"] is None else r["spread"] - 4 * fee,
            fee=fee,
        )
        for r in rows
    ]


def accuracy_from_tables(
    conn: psycopg.Connection, request: AccuracyRequest, as_of: datetime, fee: float = 0.001
) -> AccuracyReport:
    params = request.model_dump()
    filters = {
        "tf": params["timeframe"],
        "model": params["model"].lower() if params["model"] else None,
        "horizon": params["horizon"],
        "start": params["start"],
        "end": params["end"],
        "ranged": bool(params["start"] or params["end"]),
    }
    rows = conn.execute(ROWS, filters | {"window": params["window_days"]}).fetchall()
    rankings = ranking_rows(conn, filters, fee)
    note = "" if rows or rankings else NO_OUTCOMES
    return AccuracyReport(as_of=as_of, rows=[_row(r) for r in rows], rankings=rankings, note=note)


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
