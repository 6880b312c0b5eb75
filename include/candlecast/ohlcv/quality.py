"""Recording data quality: validation outcomes per run, the candles held back, and the universe
each sync chose.

Rows are keyed by run, so re-running a DAG run replaces its rows instead of adding more.
"""

from __future__ import annotations

import json

import psycopg

INSERT = """
INSERT INTO data_quality (run_id, suite, ticker, timeframe, severity, action, rows, failures,
                          quarantine_path, held, notes, gaps)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (run_id, suite, ticker, timeframe) DO UPDATE SET
    checked_at = now(), severity = EXCLUDED.severity, action = EXCLUDED.action,
    rows = EXCLUDED.rows, failures = EXCLUDED.failures, quarantine_path = EXCLUDED.quarantine_path,
    held = EXCLUDED.held, notes = EXCLUDED.notes, gaps = EXCLUDED.gaps
"""
HOLD = """
INSERT INTO quarantine (run_id, ticker, timeframe, candles, first_candle, last_candle, reasons,
                        path)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (run_id, ticker, timeframe) DO UPDATE SET
    created_at = now(), candles = EXCLUDED.candles, first_candle = EXCLUDED.first_candle,
    last_candle = EXCLUDED.last_candle, reasons = EXCLUDED.reasons, path = EXCLUDED.path,
    status = 'held', resolved_at = NULL, resolution = '{}'::jsonb
"""
MAX_GAPS_KEPT = 50


def _row_for(run_id: str, result: dict) -> tuple | None:
    failures = [f for f in result.get("failures") or [] if f.get("severity") != "info"]
    gaps = result.get("gaps") or []
    gaps = gaps[-MAX_GAPS_KEPT:] + [
        {"incomplete_period": start} for start in result.get("incomplete") or []
    ]
    notes = result.get("notes") or []
    if result["status"] == "failed":
        severity, action = "critical", "none"
        failures = [{"expectation": "fetch", "column": "", "error": result["reason"]}]
    elif result.get("held"):
        severity, action = "critical", "quarantined"
    elif result.get("flagged"):
        severity, action = "warning", "flagged"
    elif gaps or notes:
        severity, action = "ok", "written"
    else:
        return None
    return (
        run_id,
        "ohlcv",
        result["ticker"],
        result["timeframe"],
        severity,
        action,
        result["rows_fetched"],
        json.dumps(failures),
        result.get("quarantine_path", "") if action == "quarantined" else "",
        result.get("held", 0),
        json.dumps(notes),
        json.dumps(gaps),
    )


def record_batch(
    conn: psycopg.Connection, run_id: str, batch_key: str, results: list[dict]
) -> None:
    """One summary row for the batch, one row for each series that was not a clean write, and
    a `quarantine` entry for each series with candles held back."""
    rows = [r for r in (_row_for(run_id, result) for result in results) if r is not None]
    worst = (
        "critical"
        if any(r[4] == "critical" for r in rows)
        else ("warning" if any(r[4] == "warning" for r in rows) else "ok")
    )
    rows.append(
        (
            run_id,
            "ohlcv",
            f"batch:{batch_key}",
            "",
            worst,
            "written",
            sum(r["rows_fetched"] for r in results),
            "[]",
            "",
            sum(r.get("held", 0) for r in results),
            "[]",
            "[]",
        )
    )
    holds = [
        (
            run_id,
            r["ticker"],
            r["timeframe"],
            r["held"],
            r["held_span"][0],
            r["held_span"][1],
            json.dumps(
                {
                    "failures": [f for f in r["failures"] if f["severity"] == "critical"],
                    "candles": r.get("notes", []),
                }
            ),
            r["quarantine_path"],
        )
        for r in results
        if r.get("held")
    ]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(INSERT, rows)
        if holds:
            cur.executemany(HOLD, holds)


def record_symbols_check(
    conn: psycopg.Connection, run_id: str, failures: list[dict], rows: int
) -> None:
    severity = "critical" if failures else "ok"
    with conn.transaction():
        conn.execute(
            INSERT,
            (
                run_id,
                "symbols",
                "",
                "",
                severity,
                "rejected" if failures else "written",
                rows,
                json.dumps(failures),
                "",
                0,
                "[]",
                "[]",
            ),
        )


def record_universe(conn: psycopg.Connection, run_id: str, top_n: int, tickers: list[str]) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO universe_runs (run_id, top_n, tickers) VALUES (%s, %s, %s) "
            "ON CONFLICT (run_id) DO UPDATE SET recorded_at = now(), top_n = EXCLUDED.top_n, "
            "tickers = EXCLUDED.tickers",
            (run_id, top_n, tickers),
        )
