"""Data quality: validation outcomes, the universe of each sync, data-health checks.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE data_quality (
            id               BIGSERIAL PRIMARY KEY,
            checked_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
            run_id           TEXT NOT NULL DEFAULT '',
            suite            TEXT NOT NULL,
            ticker           TEXT NOT NULL DEFAULT '',
            timeframe        TEXT NOT NULL DEFAULT '',
            severity         TEXT NOT NULL CHECK (severity IN ('ok', 'warning', 'critical')),
            action           TEXT NOT NULL CHECK (action IN ('written', 'quarantined', 'flagged',
                                                             'rejected', 'none')),
            rows             INTEGER NOT NULL DEFAULT 0,
            failures         JSONB NOT NULL DEFAULT '[]'::jsonb,
            quarantine_path  TEXT NOT NULL DEFAULT '',
            UNIQUE (run_id, suite, ticker, timeframe)
        );
        CREATE INDEX data_quality_recent_idx ON data_quality (checked_at DESC);
        CREATE INDEX data_quality_series_idx ON data_quality (ticker, timeframe, checked_at DESC);
        CREATE TABLE universe_runs (
            run_id       TEXT PRIMARY KEY,
            recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
            top_n        INTEGER NOT NULL,
            tickers      TEXT[] NOT NULL
        );
        CREATE TABLE data_health (
            checked_at     TIMESTAMPTZ NOT NULL,
            timeframe      TEXT NOT NULL CHECK (timeframe IN ('1h', '4h', '1d', '1w', '1M')),
            universe       INTEGER NOT NULL,
            covered        INTEGER NOT NULL,
            stale          TEXT[] NOT NULL,
            gappy          TEXT[] NOT NULL,
            spikes         TEXT[] NOT NULL,
            alert          BOOLEAN NOT NULL,
            PRIMARY KEY (checked_at, timeframe)
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE data_health, universe_runs, data_quality")
