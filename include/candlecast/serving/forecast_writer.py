"""Forecasts stored by group commit: concurrent callers' rows are written together, in one
statement (one implicit transaction, one round trip, one WAL flush), and each caller returns only
once the batch that holds its row has committed, so `persisted: true` still means stored.

No timer and no thread of its own: the first caller to find no flush running flushes everything
queued (up to `max_batch` rows), and rows that arrive meanwhile go in the next batch. One client
waits for nothing but its own statement; many share statements. The queue is bounded by the
callers themselves (each waits for its row) and a batch by `max_batch`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from dataclasses import dataclass

import psycopg

from candlecast.api import Forecast
from candlecast.ops import ConnectionPool, DatabaseUnavailable

log = logging.getLogger(__name__)

MAX_BATCH = 64

# What a stored row takes of the forecast (the steps' extra fields are ignored by the SQL).
ROW_FIELDS = frozenset(
    {
        "prediction_id",
        "timeframe",
        "generated_at",
        "last_candle_at",
        "last_close",
        "data_age_seconds",
        "stale",
        "direction",
        "confidence",
        "indicators",
        "steps",
    }
)

INSERT_BATCH = """
WITH batch AS (
    SELECT b.symbol_id, b.model_id, b.cache_key, b.shadow_of, f.*
    FROM jsonb_to_recordset(%s::jsonb) AS b(symbol_id bigint, model_id bigint, cache_key text,
                                             shadow_of uuid, forecast jsonb),
         jsonb_to_record(b.forecast) AS f(prediction_id uuid, timeframe text,
                                          generated_at timestamptz, last_candle_at timestamptz,
                                          last_close float8, data_age_seconds float8, stale bool,
                                          direction text, confidence float8, indicators jsonb,
                                          steps jsonb)
),
prediction AS (
    INSERT INTO predictions (id, symbol_id, timeframe, model_id, steps, last_candle_at,
                             last_close, direction, confidence, generated_at, cache_key, stale,
                             data_age_seconds, indicators, shadow, shadow_of)
    SELECT prediction_id, symbol_id, timeframe, model_id, jsonb_array_length(steps),
           last_candle_at, last_close, direction, confidence, generated_at, cache_key, stale,
           data_age_seconds, indicators, shadow_of IS NOT NULL, shadow_of
    FROM batch
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
INSERT INTO prediction_steps (prediction_id, step, timestamp, open, high, low, close,
                              close_low_80, close_high_80, direction, confidence,
                              relative_z, percentile, p_outperform)
SELECT prediction.id, step.*
FROM prediction
JOIN batch ON batch.prediction_id = prediction.id,
     jsonb_to_recordset(batch.steps) AS step(
         step smallint, timestamp timestamptz, open float8, high float8, low float8,
         close float8, close_low_80 float8, close_high_80 float8, direction text,
         confidence float8, relative_z float8, percentile float8, p_outperform float8)
"""


def row_json(
    forecast: Forecast,
    symbol_id: int,
    model_id: int,
    cache_key: str,
    shadow_of: str | None = None,
) -> str:
    """One row of the batch as JSON text (pydantic's serializer: no per-step dicts).
    `shadow_of`: the champion forecast this (challenger's) forecast shadows."""
    body = forecast.model_dump_json(include=ROW_FIELDS)
    return (
        f'{{"symbol_id":{int(symbol_id)},"model_id":{int(model_id)},'
        f'"cache_key":{json.dumps(cache_key)},"shadow_of":{json.dumps(shadow_of)},'
        f'"forecast":{body}}}'
    )


def insert_rows(conn: psycopg.Connection, rows: list[str]) -> None:
    """The predictions and all their steps in one statement: all or nothing; a repeated id
    writes nothing."""
    conn.execute(INSERT_BATCH, ("[" + ",".join(rows) + "]",))


@dataclass
class _Queued:
    row: str
    done: bool = False
    stored: bool = False


class ForecastWriter:
    def __init__(self, pool: ConnectionPool, max_batch: int = MAX_BATCH) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self._queue: deque[_Queued] = deque()
        self._flushing = False
        self._changed = threading.Condition()
        self.batches = 0  # statements run (committed or failed): fewer than rows under load
        self.rows = 0

    @property
    def queued(self) -> int:
        """Rows waiting for a flush (not counting a batch being written)."""
        with self._changed:
            return len(self._queue)

    def write(
        self,
        forecast: Forecast,
        symbol_id: int,
        model_id: int,
        cache_key: str,
        shadow_of: str | None = None,
    ) -> bool:
        """Store the forecast; True once its batch has committed, False when it failed (every
        row of that batch is then unstored; rows of earlier batches stay stored)."""
        queued = _Queued(row_json(forecast, symbol_id, model_id, cache_key, shadow_of))
        with self._changed:
            self._queue.append(queued)
            while not queued.done:
                if self._flushing:
                    self._changed.wait()
                    continue
                self._flushing = True
                take = min(len(self._queue), self.max_batch)
                batch = [self._queue.popleft() for _ in range(take)]
                stored = False
                self._changed.release()
                try:
                    stored = self._flush(batch)
                finally:
                    self._changed.acquire()
                    for entry in batch:
                        entry.done, entry.stored = True, stored
                    self._flushing = False
                    self._changed.notify_all()
        return queued.stored

    def _flush(self, batch: list[_Queued]) -> bool:
        self.batches += 1
        self.rows += len(batch)
        try:
            with self.pool.connection() as conn:
                insert_rows(conn, [entry.row for entry in batch])
        except DatabaseUnavailable as error:
            log.error("%d forecasts not stored: %s", len(batch), error)
            return False
        except psycopg.Error as error:  # a row the schema refuses: the batch is rolled back
            log.error("%d forecasts not stored: %s", len(batch), error)
            return False
        return True
