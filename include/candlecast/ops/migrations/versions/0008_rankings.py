"""Rankings: the served universe's ranking of one timeframe, horizon and candle (`/rank`), stored
once per model version, horizon and candle, and scored once its target candle closed
(`ranking_outcomes`: rank IC and top-minus-bottom-fifth spread); the relative fields of each
forecast step (`relative_z`, `percentile`, `p_outperform`).

Revision ID: 0008
Revises: 0007 (shadow forecasts)
"""

from alembic import op

revision = "0008"
down_revision = "0007"

TIMEFRAME_CHECK = "CHECK (timeframe IN ('1h', '4h', '1d', '1w', '1M'))"


def upgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE prediction_steps
            ADD COLUMN relative_z   DOUBLE PRECISION,
            ADD COLUMN percentile   DOUBLE PRECISION CHECK (percentile BETWEEN 0 AND 100),
            ADD COLUMN p_outperform DOUBLE PRECISION CHECK (p_outperform BETWEEN 0 AND 1);

        CREATE TABLE rankings (
            id               UUID PRIMARY KEY,
            model_id         BIGINT NOT NULL REFERENCES models (id),
            timeframe        TEXT NOT NULL {TIMEFRAME_CHECK},
            horizon          SMALLINT NOT NULL CHECK (horizon BETWEEN 1 AND 30),
            candle_at        TIMESTAMPTZ NOT NULL,
            target_at        TIMESTAMPTZ NOT NULL CHECK (target_at > candle_at),
            relative_skill   BOOLEAN NOT NULL,
            universe_size    INTEGER NOT NULL CHECK (universe_size >= 0),
            -- one object per ranked coin: symbol, relative_z, percentile, p_outperform, last_close
            entries          JSONB NOT NULL,
            generated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
            outcome_pending  BOOLEAN NOT NULL DEFAULT true,
            UNIQUE (model_id, horizon, candle_at)
        );
        CREATE INDEX rankings_pending_idx ON rankings (target_at) WHERE outcome_pending;

        CREATE TABLE ranking_outcomes (
            ranking_id       UUID PRIMARY KEY REFERENCES rankings (id) ON DELETE CASCADE,
            model_id         BIGINT NOT NULL REFERENCES models (id),
            timeframe        TEXT NOT NULL {TIMEFRAME_CHECK},
            horizon          SMALLINT NOT NULL CHECK (horizon BETWEEN 1 AND 30),
            closed_at        TIMESTAMPTZ NOT NULL,
            coins            INTEGER NOT NULL CHECK (coins >= 0),
            rank_ic          DOUBLE PRECISION,
            spread           DOUBLE PRECISION,
            scored_at        TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX ranking_outcomes_closed_idx ON ranking_outcomes (closed_at, timeframe);
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP TABLE ranking_outcomes; DROP TABLE rankings; "
        "ALTER TABLE prediction_steps DROP COLUMN p_outperform, DROP COLUMN percentile, "
        "DROP COLUMN relative_z"
    )
