"""Model reports and metadata, API keys, stored forecast context for the prediction API.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE models
            ADD COLUMN report_path     TEXT NOT NULL DEFAULT '',
            ADD COLUMN universe_size   INTEGER NOT NULL DEFAULT 0,
            ADD COLUMN universe_hash   TEXT NOT NULL DEFAULT '',
            ADD COLUMN baseline_metrics JSONB NOT NULL DEFAULT '{}'::jsonb;
        ALTER TABLE predictions
            ADD COLUMN cache_key       TEXT NOT NULL DEFAULT '',
            ADD COLUMN stale           BOOLEAN NOT NULL DEFAULT false,
            ADD COLUMN data_age_seconds DOUBLE PRECISION,
            ADD COLUMN indicators      JSONB NOT NULL DEFAULT '{}'::jsonb;
        CREATE INDEX predictions_cache_key_idx ON predictions (cache_key) WHERE cache_key <> '';
        CREATE TABLE api_keys (
            id           BIGSERIAL PRIMARY KEY,
            name         TEXT NOT NULL,
            prefix       TEXT NOT NULL UNIQUE,
            key_hash     TEXT NOT NULL UNIQUE,
            rate_per_minute INTEGER NOT NULL CHECK (rate_per_minute > 0),
            burst        INTEGER NOT NULL CHECK (burst > 0),
            created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
            revoked_at   TIMESTAMPTZ,
            last_used_at TIMESTAMPTZ
        );
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE api_keys;
        DROP INDEX predictions_cache_key_idx;
        ALTER TABLE predictions DROP COLUMN cache_key, DROP COLUMN stale,
            DROP COLUMN data_age_seconds, DROP COLUMN indicators;
        ALTER TABLE models DROP COLUMN report_path, DROP COLUMN universe_size,
            DROP COLUMN universe_hash, DROP COLUMN baseline_metrics;
        """
    )
