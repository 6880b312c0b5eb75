"""Outcomes of stored rankings (/rank): once a ranking's target candle has closed, its rank IC
(Spearman of the coins' relative z against their realised returns) and its top-minus-bottom-fifth
spread of realised simple returns, into `ranking_outcomes` (by UPSERT: a re-run writes nothing).

A ranking waits while any of its coins' target candles is not in the store (ohlcv_update brings
them and its Asset runs the scoring again); a day after the target closed it is scored on the
coins that have one. The realised return is the target candle's close over the close the
ranking was made on, the same candles as the forecasts' outcomes (`RealisedCandles`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg

from candlecast.modeling.training.evaluation import mean_ic
from candlecast.modeling.training.ranking_eval import fifth_spread
from candlecast.monitoring.realised_candles import RealisedCandles
from candlecast.timeframes import TIMEFRAMES

PATIENCE = pd.Timedelta(days=1)  # after this, a ranking is scored on the coins that closed

PENDING = """
    SELECT id::text AS ranking_id, model_id, timeframe, horizon, candle_at, target_at, entries
    FROM rankings WHERE outcome_pending AND target_at < %s ORDER BY target_at
"""
UPSERT = """
    INSERT INTO ranking_outcomes AS o (ranking_id, model_id, timeframe, horizon, closed_at, coins,
                                       rank_ic, spread)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (ranking_id) DO UPDATE SET
        coins = EXCLUDED.coins, rank_ic = EXCLUDED.rank_ic, spread = EXCLUDED.spread,
        scored_at = now()
    WHERE (o.coins, o.rank_ic, o.spread) IS DISTINCT FROM
          (EXCLUDED.coins, EXCLUDED.rank_ic, EXCLUDED.spread)
    RETURNING o.ranking_id
"""


def realised_returns(row: dict, candles: RealisedCandles) -> dict[str, float]:
    """Each coin's simple return from the ranking's close to its target candle's close."""
    timeframe = TIMEFRAMES[row["timeframe"]]
    target = pd.Timestamp(row["target_at"]).tz_convert("UTC")
    found = {}
    for entry in row["entries"]:
        frame, _ = candles.frame(entry["symbol"], timeframe, target)
        at = frame.loc[frame["timestamp"] == target, "close"]
        if len(at):
            found[entry["symbol"]] = float(at.iloc[-1]) / entry["last_close"] - 1.0
    return found


def ranking_figures(entries: list[dict], realised: dict[str, float]) -> dict:
    """IC and fifth spread of one ranking over the coins with a realised return."""
    scored = [e for e in entries if e["symbol"] in realised]
    score = np.array([e["relative_z"] for e in scored], dtype=float)
    actual = np.log1p(np.array([realised[e["symbol"]] for e in scored], dtype=float))
    stamps = np.zeros(len(scored))
    return {
        "coins": len(scored),
        "rank_ic": mean_ic(stamps, score, actual) if len(scored) else None,
        "spread": fifth_spread(stamps, score, actual)["spread"] if len(scored) else None,
    }


def score_rankings(conn: psycopg.Connection, candles: RealisedCandles) -> dict:
    """One pass over the pending rankings whose target candle closed by `candles.now`."""
    due, scored, waiting = 0, 0, 0
    for row in conn.execute(PENDING, (candles.now,)).fetchall():
        timeframe = TIMEFRAMES[row["timeframe"]]
        closed_at = timeframe.next_open(pd.Timestamp(row["target_at"]).tz_convert("UTC"))
        if closed_at > candles.now:
            continue
        due += 1
        realised = realised_returns(row, candles)
        complete = len(realised) == len(row["entries"])
        if not complete and candles.now - closed_at < PATIENCE:
            waiting += 1
            continue
        figures = ranking_figures(row["entries"], realised)
        written = conn.execute(
            UPSERT,
            (
                row["ranking_id"], row["model_id"], row["timeframe"], row["horizon"], closed_at,
                figures["coins"], figures["rank_ic"], figures["spread"],
            ),
        ).fetchall()  # fmt: skip
        scored += len(written)
        conn.execute(
            "UPDATE rankings SET outcome_pending = false WHERE id = %s", (row["ranking_id"],)
        )
    return {"due": due, "scored": scored, "waiting": waiting}


SCORED_IN_PERIOD = """
    SELECT o.timeframe, m.name || ':' || m.version AS model, count(*) AS rankings,
           avg(o.coins)::float8 AS coins, avg(o.rank_ic) AS rank_ic, avg(o.spread) AS spread
    FROM ranking_outcomes o JOIN models m ON m.id = o.model_id
    WHERE o.closed_at > %(start)s AND o.closed_at <= %(end)s
    GROUP BY 1, 2 ORDER BY 1, 2
"""


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:+.2f} %"


def ranking_lines(conn: psycopg.Connection, start, end, fee: float) -> list[str]:
    """The report's "ranking" section: per timeframe and version, the served rankings whose
    target closed in the period, their mean realised IC and fifth spread, gross and net."""
    rows = conn.execute(SCORED_IN_PERIOD, {"start": start, "end": end}).fetchall()
    if not rows:
        return ["Ranking: no served ranking's target candle closed in the period."]
    lines = [f"Ranking (served /rank, realised; net of {100 * fee:.2f} % a side, four sides):"]
    for r in rows:
        ic = "n/a" if r["rank_ic"] is None else f"{r['rank_ic']:+.3f}"
        net = None if r["spread"] is None else r["spread"] - 4 * fee
        lines.append(
            f"  {r['timeframe']} {r['model']}: {r['rankings']} ranking(s) of ~{r['coins']:.0f} "
            f"coins, IC {ic}, top-minus-bottom fifth {_pct(r['spread'])} gross, {_pct(net)} net"
        )
    return lines
