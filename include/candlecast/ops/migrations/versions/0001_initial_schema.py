"""Initial schema: symbols, models, predictions, prediction_steps.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None

TIMEFRAME_CHECK = "CHECK (timeframe IN ('1h', '4h', '1d', '1w', '1M'))"


SYMBOLS_SCHEMA = """
        CREATE TABLE symbols (
            id              BIGSERIAL PRIMARY KEY,
            ticker          TEXT NOT NULL UNIQUE,
            name            TEXT NOT NULL,
            base            TEXT NOT NULL,
            quote           TEXT NOT NULL,
            active          BOOLEAN NOT NULL DEFAULT TRUE,
            usd_volume_24h  DOUBLE PRECISION,
            volume_rank     INTEGER,
            first_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX symbols_rank_idx ON symbols (volume_rank) WHERE active;
        """
MODELS_SCHEMA = f"""
        CREATE TABLE models (
            id                   BIGSERIAL PRIMARY KEY,
            name                 TEXT NOT NULL,
            version              TEXT NOT NULL,
            timeframe            TEXT NOT NULL {TIMEFRAME_CHECK},
            algorithm            TEXT NOT NULL,
            feature_set_version  TEXT NOT NULL,
            trained_at           TIMESTAMPTZ NOT NULL,
            train_start          TIMESTAMPTZ,
            train_end            TIMESTAMPTZ,
            n_symbols            INTEGER NOT NULL,
            n_train_rows         INTEGER NOT NULL,
            metrics              JSONB NOT NULL DEFAULT '{{}}'::jsonb,
            stage                TEXT NOT NULL DEFAULT 'candidate',
            created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
            UNIQUE (name, version)
        );
        CREATE INDEX models_timeframe_idx ON models (timeframe, trained_at DESC);
        """
PREDICTIONS_SCHEMA = f"""
        CREATE TABLE predictions (
            id               UUID PRIMARY KEY,
            symbol_id        BIGINT NOT NULL REFERENCES symbols (id),
            timeframe        TEXT NOT NULL {TIMEFRAME_CHECK},
            model_id         BIGINT NOT NULL REFERENCES models (id),
            steps            SMALLINT NOT NULL CHECK (steps BETWEEN 1 AND 30),
            last_candle_at   TIMESTAMPTZ NOT NULL,
            last_close       DOUBLE PRECISION NOT NULL CHECK (last_close > 0),
            direction        TEXT NOT NULL CHECK (direction IN ('up', 'down')),
            confidence       DOUBLE PRECISION NOT NULL CHECK (confidence > 0 AND confidence < 1),
            generated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX predictions_symbol_idx ON predictions (symbol_id, timeframe, generated_at DESC);
        CREATE TABLE prediction_steps (
            prediction_id    UUID NOT NULL REFERENCES predictions (id) ON DELETE CASCADE,
            step             SMALLINT NOT NULL CHECK (step BETWEEN 1 AND 30),
            timestamp        TIMESTAMPTZ NOT NULL,
            open             DOUBLE PRECISION NOT NULL CHECK (open > 0),
            high             DOUBLE PRECISION NOT NULL,
            low              DOUBLE PRECISION NOT NULL CHECK (low > 0),
            close            DOUBLE PRECISION NOT NULL CHECK (close > 0),
            close_low_80     DOUBLE PRECISION NOT NULL,
            close_high_80    DOUBLE PRECISION NOT NULL,
            direction        TEXT NOT NULL CHECK (direction IN ('up', 'down')),
            confidence       DOUBLE PRECISION NOT NULL CHECK (confidence > 0 AND confidence < 1),
            PRIMARY KEY (prediction_id, step),
            CHECK (high >= GREATEST(open, close) AND low <= LEAST(open, close))
        );
        """


def upgrade() -> None:
    op.execute(SYMBOLS_SCHEMA)
    op.execute(MODELS_SCHEMA)
    op.execute(PREDICTIONS_SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE prediction_steps, predictions, models, symbols")
