"""Review of held candles: list, show, release (through the normal clean → merge → write) and
discard. Each entry is one series' held candles of one run (`quarantine` table, files under
`CANDLECAST_HOME/quarantine/<timeframe>/<ticker>/<run>.parquet|.json`).

Both actions lock the entry's row (`FOR UPDATE`), so two reviewers cannot apply it twice, update
the `data_quality` row that recorded the hold, and are idempotent: releasing a released entry (or
discarding a discarded one) changes nothing and says so. A discarded entry cannot be released, nor
a released one discarded: the answer names the entry's state. Files are kept for the record.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import psycopg

from candlecast.ohlcv.cleaning import clean_candles
from candlecast.ohlcv.parquet_store import CandleStore
from candlecast.ops.s3_client import ObjectStore, is_object_store_url
from candlecast.timeframes import parse_timeframe

COLUMNS = (
    "id, created_at, run_id, ticker, timeframe, candles, first_candle, last_candle, reasons, "
    "path, status, resolved_at, resolution"
)
STATUSES = ("held", "released", "discarded")


class QuarantineError(ValueError):
    """An entry that does not exist, or an action its state does not allow."""


def list_entries(conn: psycopg.Connection, status: str | None = "held", limit: int = 200) -> list:
    if status is not None and status not in STATUSES:
        raise QuarantineError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    return conn.execute(
        f"SELECT {COLUMNS} FROM quarantine WHERE %(status)s::text IS NULL OR status = %(status)s "
        "ORDER BY created_at DESC, id DESC LIMIT %(limit)s",
        {"status": status, "limit": limit},
    ).fetchall()


def get_entry(conn: psycopg.Connection, entry_id: int, lock: bool = False) -> dict:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM quarantine WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (entry_id,),
    ).fetchone()
    if row is None:
        raise QuarantineError(f"no quarantine entry {entry_id} (see `candlecast quarantine list`)")
    return row


def held_candles(entry: dict) -> pd.DataFrame:
    if is_object_store_url(entry["path"]):
        folder, _, name = entry["path"].rpartition("/")
        blob = ObjectStore(folder).get(name)
        if blob is None:
            raise QuarantineError(f"entry {entry['id']}: its held candles are gone from {folder}")
        return pd.read_parquet(io.BytesIO(blob.data))
    path = Path(entry["path"])
    if not path.exists():
        raise QuarantineError(f"entry {entry['id']}: its held candles are gone from {path}")
    return pd.read_parquet(path)


def show(conn: psycopg.Connection, entry_id: int) -> dict:
    entry = get_entry(conn, entry_id)
    candles = held_candles(entry)
    candles["timestamp"] = candles["timestamp"].astype(str)
    return {**entry, "held": candles.to_dict(orient="records")}


def _resolve(
    conn: psycopg.Connection, entry: dict, status: str, resolution: dict, action: str
) -> None:
    conn.execute(
        "UPDATE quarantine SET status = %s, resolved_at = now(), resolution = %s WHERE id = %s",
        (status, json.dumps(resolution), entry["id"]),
    )
    conn.execute(
        "UPDATE data_quality SET action = %s WHERE suite = 'ohlcv' AND quarantine_path = %s",
        (action, entry["path"]),
    )


def release(conn: psycopg.Connection, store: CandleStore, entry_id: int, now: pd.Timestamp) -> dict:
    """Write the held candles through the normal merge (cleaned first: a candle no series may
    hold, such as a negative price, is still refused and counted)."""
    with conn.transaction():
        entry = get_entry(conn, entry_id, lock=True)
        if entry["status"] == "released":
            return {"id": entry_id, "status": "released", "changed": False, **entry["resolution"]}
        if entry["status"] == "discarded":
            raise QuarantineError(f"entry {entry_id} was discarded; it cannot be released")
        timeframe = parse_timeframe(entry["timeframe"])
        fresh, report = clean_candles(held_candles(entry), timeframe, now, label=entry["ticker"])
        written, rows = store.merge_write(
            entry["ticker"], timeframe, fresh, timeframe.retention_start(now)
        )
        resolution = {
            "candles_written": len(fresh),
            "refused_by_cleaner": report.dropped,
            "rows_stored": rows,
        }
        _resolve(conn, entry, "released", resolution, "released")
    return {"id": entry_id, "status": "released", "changed": True, **resolution}


def discard(conn: psycopg.Connection, entry_id: int) -> dict:
    with conn.transaction():
        entry = get_entry(conn, entry_id, lock=True)
        if entry["status"] == "discarded":
            return {"id": entry_id, "status": "discarded", "changed": False}
        if entry["status"] == "released":
            raise QuarantineError(f"entry {entry_id} was released; it cannot be discarded")
        _resolve(conn, entry, "discarded", {"candles_discarded": entry["candles"]}, "discarded")
    return {"id": entry_id, "status": "discarded", "changed": True}
