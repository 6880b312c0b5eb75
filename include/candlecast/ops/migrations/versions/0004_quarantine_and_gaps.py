"""Held candles (quarantine) with their review state; gaps recorded with their length.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE quarantine (
            id            BIGSERIAL PRIMARY KEY,
            created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
            run_id        TEXT NOT NULL,
            ticker        TEXT NOT NULL,
            timeframe     TEXT NOT NULL CHECK (timeframe IN ('1h', '4h', '1d', '1w', '1M')),
            candles       INTEGER NOT NULL CHECK (candles > 0),
            first_candle  TIMESTAMPTZ NOT NULL,
            last_candle   TIMESTAMPTZ NOT NULL,
            reasons       JSONB NOT NULL DEFAULT '[]'::jsonb,
            path          TEXT NOT NULL,
            status        TEXT NOT NULL DEFAULT 'held'
                          CHECK (status IN ('held', 'released', 'discarded')),
            resolved_at   TIMESTAMPTZ,
            resolution    JSONB NOT NULL DEFAULT '{}'::jsonb,
            UNIQUE (run_id, ticker, timeframe)
        );
        CREATE INDEX quarantine_open_idx ON quarantine (status, created_at DESC);
        ALTER TABLE data_quality DROP CONSTRAINT data_quality_action_check;
        ALTER TABLE data_quality ADD CONSTRAINT data_quality_action_check
            CHECK (action IN ('written', 'quarantined', 'flagged', 'rejected', 'none',
                              'released', 'discarded'));
        ALTER TABLE data_quality
            ADD COLUMN gaps    JSONB NOT NULL DEFAULT '[]'::jsonb,
            ADD COLUMN notes   JSONB NOT NULL DEFAULT '[]'::jsonb,
            ADD COLUMN held    INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE data_health
            ADD COLUMN gaps    JSONB NOT NULL DEFAULT '{}'::jsonb,
            ADD COLUMN notes   JSONB NOT NULL DEFAULT '{}'::jsonb;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE data_health DROP COLUMN gaps, DROP COLUMN notes;
        ALTER TABLE data_quality DROP COLUMN gaps, DROP COLUMN notes, DROP COLUMN held;
        DELETE FROM data_quality WHERE action IN ('released', 'discarded');
        ALTER TABLE data_quality DROP CONSTRAINT data_quality_action_check;
        ALTER TABLE data_quality ADD CONSTRAINT data_quality_action_check
            CHECK (action IN ('written', 'quarantined', 'flagged', 'rejected', 'none'));
        DROP TABLE quarantine;
        """
    )
