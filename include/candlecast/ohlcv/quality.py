"""Recording data quality: validation outcomes per run and the universe each sync chose.

Rows are keyed by run, so re-running a DAG run replaces its rows instead of adding more.
"""

from __future__ import annotations

import json

import psycopg

INSERT = """
INSERT INTO data_quality (run_id, suite, ticker, timeframe, severity, action, rows, failures,
                          quarantine_path)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (run_id, suite, ticker, timeframe) DO UPDATE SET
    checked_at = now(), severity = EXCLUDED.severity, action = EXCLUDED.action,
    rows = EXCLUDED.rows, failures = EXCLUDED.failures, quarantine_path = EXCLUDED.quarantine_path
"""


def _row_for(run_id: str, result: dict) -> tuple | None:
    failures = result.get("failures") or []
    if result["status"] == "quarantined":
        severity, action = "critical", "quarantined"
    elif result["status"] == "failed":
        severity, action = "critical", "none"
        failures = [{"expectation": "fetch", "column": "", "error": result["reason"]}]
    elif failures:
        severity, action = "warning", "flagged"
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
        result["path"] if action == "quarantined" else "",
    )


def record_batch(
    conn: psycopg.Connection, run_id: str, batch_key: str, results: list[dict]
) -> None:
    """One summary row for the batch, one row for each series that was not a clean write."""
    rows = [r for r in (_row_for(run_id, result) for result in results) if r is not None]
    worst = "critical" if any(r[4] == "critical" for r in rows) else ("warning" if rows else "ok")
    rows.append(
        (
            run_id,
            "ohlcv",
            f"batch:{batch_key}",
            "",
            worst,
            "written" if worst != "critical" else "quarantined",
            sum(r["rows_fetched"] for r in results),
            "[]",
            "",
        )
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(INSERT, rows)


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
