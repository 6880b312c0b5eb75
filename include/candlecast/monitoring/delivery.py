"""Delivery of the reports: a report is claimed (`sent_reports`, status `sending`, its text kept
with it) before its post, so two runs never both send it; it is marked `sent` only once the
webhook accepted it, else `failed`; the next run retries a failed one exactly once (any worker:
the text is in the row), and a second failure stays `failed` in the table and the log."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd
import psycopg

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 2  # the first post and one retry by the next run

CLAIM = """
    INSERT INTO sent_reports (kind, period_end, text_path, plot_path, status, attempts, body)
    VALUES (%s, %s, %s, %s, 'sending', 1, %s) ON CONFLICT DO NOTHING RETURNING kind
"""
RETRIES = """
    UPDATE sent_reports SET status = 'sending', attempts = attempts + 1
    WHERE status = 'failed' AND attempts < %s AND body IS NOT NULL
    RETURNING kind, period_end, body
"""
SETTLE = """
    UPDATE sent_reports SET status = %(status)s,
           delivered_at = CASE WHEN %(status)s = 'sent' THEN clock_timestamp() END
    WHERE kind = %(kind)s AND period_end = %(end)s
"""


def claim(conn: psycopg.Connection, kind: str, end: pd.Timestamp, paths, text: str) -> bool:
    """Whether this run sends the report (committed before the post leaves)."""
    row = conn.execute(CLAIM, (kind, end, str(paths[0]), str(paths[1]), text)).fetchone()
    conn.commit()
    return row is not None


def deliver(
    conn: psycopg.Connection, kind: str, end, text: str, post: Callable[[str], bool]
) -> bool:
    """Post a claimed report; its row says `sent` only when the webhook accepted it."""
    delivered = post(text)
    conn.execute(SETTLE, {"status": "sent" if delivered else "failed", "kind": kind, "end": end})
    conn.commit()
    if not delivered:
        log.error("the %s report of %s was not delivered", kind, end)
    return delivered


def retry_failed(conn: psycopg.Connection, post: Callable[[str], bool]) -> list[dict]:
    """Post again every report whose last post failed and that was tried only once."""
    claimed = conn.execute(RETRIES, (MAX_ATTEMPTS,)).fetchall()
    conn.commit()
    return [
        {
            "kind": row["kind"],
            "period_end": str(row["period_end"]),
            "sent": deliver(conn, row["kind"], row["period_end"], row["body"], post),
        }
        for row in claimed
    ]
