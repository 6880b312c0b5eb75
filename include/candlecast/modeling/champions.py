"""Which version was a timeframe's champion at a past time, from the release history
(`model_releases`): the version the last champion-changing release before that time put in
place. Replays and as-of forecasts ask it; nothing here changes a release."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import psycopg

# The releases that make a version champion (`to_model_id`); `register` and `prune` do not.
CHAMPION_ACTIONS = ("first_champion", "promote", "auto_promote", "rollback")


def _utc(at: datetime | pd.Timestamp | str) -> pd.Timestamp:
    stamp = pd.Timestamp(at)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def champion_at(
    conn: psycopg.Connection, timeframe: str, at: datetime | pd.Timestamp | str
) -> str | None:
    """The tag of `timeframe`'s champion at `at` (a release at exactly `at` counts), or None
    when no version of it was champion yet."""
    row = conn.execute(
        "SELECT m.name, m.version FROM model_releases r JOIN models m ON m.id = r.to_model_id "
        "WHERE r.timeframe = %s AND r.action = ANY(%s) AND r.created_at <= %s "
        "ORDER BY r.created_at DESC, r.id DESC LIMIT 1",
        (timeframe, list(CHAMPION_ACTIONS), _utc(at).to_pydatetime()),
    ).fetchone()
    if row is None:
        return None
    return f"{row['name']}:{row['version']}"


def champions_over(
    conn: psycopg.Connection, timeframe: str, times: list[pd.Timestamp]
) -> dict[pd.Timestamp, str | None]:
    """`champion_at` of each of `times` (one query per distinct time; replays ask for a few
    dozen)."""
    return {at: champion_at(conn, timeframe, at) for at in times}
