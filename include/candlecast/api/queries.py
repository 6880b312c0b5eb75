"""The API's reads from PostgreSQL: symbol typeahead, stored forecasts, model rows."""

from __future__ import annotations

import psycopg

from candlecast.api.errors import NotFound
from candlecast.api.schemas import Forecast, ForecastStep, HorizonEvidence, SymbolMatch

HEADLINE_HORIZONS = ("h1", "h6", "h30")
HEADLINE_FIGURES = ("direction_accuracy", "mae_ratio_to_random_walk", "mae_ratio")


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_symbols(conn: psycopg.Connection, query: str, limit: int) -> list[SymbolMatch]:
    """Tickers or names containing the query: exact and prefix matches first, then active
    before inactive, then by USD volume."""
    text = query.strip().upper().removeprefix("X:")
    rows = conn.execute(
        r"""
        SELECT ticker, name, base, quote, active, usd_volume_24h, volume_rank
        FROM symbols
        WHERE ticker ILIKE %(inner)s ESCAPE '\' OR name ILIKE %(inner)s ESCAPE '\'
        ORDER BY active DESC,
                 (base = %(text)s OR ticker = %(ticker)s) DESC,
                 (ticker ILIKE %(prefix)s ESCAPE '\' OR name ILIKE %(name_prefix)s ESCAPE '\') DESC,
                 usd_volume_24h DESC NULLS LAST, ticker
        LIMIT %(limit)s
        """,
        {
            "inner": f"%{_like(text)}%",
            "prefix": f"X:{_like(text)}%",
            "name_prefix": f"{_like(text)}%",
            "text": text,
            "ticker": f"X:{text}",
            "limit": limit,
        },
    ).fetchall()
    return [SymbolMatch(**row) for row in rows]


_FORECAST_SQL = """
    SELECT p.id::text AS prediction_id, s.ticker AS symbol, p.timeframe,
           m.name AS model_name, m.version AS model_version, p.generated_at, p.last_candle_at,
           p.last_close, p.data_age_seconds, p.stale, p.direction, p.confidence, p.indicators,
           m.metrics -> 'skill_by_horizon' AS skill_by_horizon
    FROM predictions p JOIN symbols s ON s.id = p.symbol_id JOIN models m ON m.id = p.model_id
    WHERE NOT p.shadow
"""  # a challenger's shadow forecast is kept for live outcomes, never shown


def _forecast(conn: psycopg.Connection, row: dict) -> Forecast:
    steps = conn.execute(
        "SELECT step, timestamp, open, high, low, close, close_low_80, close_high_80, direction, "
        "confidence, relative_z, percentile, p_outperform "
        "FROM prediction_steps WHERE prediction_id = %s ORDER BY step",
        (row["prediction_id"],),
    ).fetchall()
    evidence = skill_evidence(row.pop("skill_by_horizon"))
    validated = {e.horizon for e in evidence if e.skill == "validated"}
    ranked = {e.horizon for e in evidence if e.relative_skill == "validated"}
    forecast_steps = [
        ForecastStep(
            **{**s, "p_outperform": 0.5 if s["p_outperform"] is None else s["p_outperform"]},
            skill="validated" if s["step"] in validated else "none",
            relative_skill="validated" if s["step"] in ranked else "none",
        )
        for s in steps
    ]
    return Forecast(
        **{**row, "data_age_seconds": row["data_age_seconds"] or 0.0},
        skill=evidence[: len(forecast_steps)],
        model=f"{row['model_name']}:{row['model_version']}",
        mean_confidence=sum(s.confidence for s in forecast_steps) / max(len(forecast_steps), 1),
        persisted=True,
        steps=forecast_steps,
    )


def skill_evidence(recorded, fee: float | None = None) -> list[HorizonEvidence]:
    """The per-horizon evidence a models row recorded (none for versions from before it); with
    `fee` (a side), the test spreads shown net of it."""
    if not isinstance(recorded, list):
        return []
    return [
        HorizonEvidence(
            **{"relative_skill": figures.get("skill", "none"), **figures, **_net(figures, fee)}
        )
        for figures in recorded
        if isinstance(figures, dict)
    ]  # a version from before the two claims made one: both


def _net(figures: dict, fee: float | None) -> dict:
    if fee is None:
        return {}
    shown = {"rank_fee": fee}
    for name in ("test_spread", "test_best_naive_ranker_spread"):
        gross = figures.get(name)
        shown[f"{name}_net"] = None if gross is None else gross - 4 * fee
    return shown


def universe_tickers(conn: psycopg.Connection, size: int) -> list[str]:
    """The served universe: the active coins ranked by USD volume (one pair per coin), top
    `size`."""
    rows = conn.execute(
        "SELECT ticker FROM symbols WHERE active AND volume_rank IS NOT NULL "
        "ORDER BY volume_rank LIMIT %s",
        (size,),
    ).fetchall()
    return [row["ticker"] for row in rows]


def universe_at(conn: psycopg.Connection, size: int, at) -> tuple[list[str], str]:
    """The universe as of a past time: the top `size` of the last one a symbol sync recorded at
    or before `at` (`universe_runs`), else today's (`universe_tickers`); and which it is."""
    row = conn.execute(
        "SELECT tickers, recorded_at FROM universe_runs WHERE recorded_at <= %s "
        "ORDER BY recorded_at DESC LIMIT 1",
        (at,),
    ).fetchone()
    if row is not None:
        recorded = row["recorded_at"].isoformat()
        return list(row["tickers"])[:size], f"the universe the symbol sync recorded at {recorded}"
    return (
        universe_tickers(conn, size),
        "today's ranking by USD volume: no universe was recorded at or before as_of",
    )


def stored_forecast(conn: psycopg.Connection, prediction_id: str) -> Forecast:
    row = conn.execute(_FORECAST_SQL + " AND p.id = %s", (prediction_id,)).fetchone()
    if row is None:
        raise NotFound(f"no prediction {prediction_id}", field="prediction_id")
    return _forecast(conn, row)


def latest_forecast(conn: psycopg.Connection, ticker: str, timeframe_code: str) -> Forecast:
    row = conn.execute(
        _FORECAST_SQL + " AND s.ticker = %s AND p.timeframe = %s "
        "ORDER BY p.generated_at DESC LIMIT 1",
        (ticker, timeframe_code),
    ).fetchone()
    if row is None:
        raise NotFound(f"no stored {timeframe_code} prediction for {ticker}", field="symbol")
    return _forecast(conn, row)


def model_rows(conn: psycopg.Connection, tags: list[str]) -> dict[str, dict]:
    rows = conn.execute(
        "SELECT name || ':' || version AS tag, trained_at, algorithm, n_symbols, metrics "
        "FROM models WHERE name || ':' || version = ANY(%s)",
        (tags,),
    ).fetchall()
    return {row["tag"]: row for row in rows}


def headline_metrics(metrics: dict) -> dict:
    """Direction accuracy and MAE ratio at h1/h6/h30, wherever the metrics layout keeps them:
    an explicit `headline` entry, else per-horizon groups under `test` (or the top level)."""
    if not isinstance(metrics, dict):
        return {}
    if isinstance(metrics.get("headline"), dict):
        return metrics["headline"]
    for section in (metrics.get("test"), metrics):
        if not isinstance(section, dict):
            continue
        found = {
            h: {k: section[h][k] for k in HEADLINE_FIGURES if k in section[h]}
            for h in HEADLINE_HORIZONS
            if isinstance(section.get(h), dict)
        }
        found = {h: figures for h, figures in found.items() if figures}
        if found:
            return found
    return {}


def find_symbol(conn: psycopg.Connection, ticker: str) -> dict | None:
    return conn.execute(
        "SELECT id, ticker, name, active FROM symbols WHERE ticker = %s", (ticker,)
    ).fetchone()


def close_matches(conn: psycopg.Connection, ticker: str, limit: int = 5) -> list[str]:
    core = ticker.upper().removeprefix("X:")[:3]
    rows = conn.execute(
        "SELECT ticker FROM symbols WHERE active AND (ticker ILIKE %s OR base ILIKE %s) "
        "ORDER BY volume_rank NULLS LAST LIMIT %s",
        (f"%{core}%", f"{core}%", limit),
    ).fetchall()
    return [row["ticker"] for row in rows]
