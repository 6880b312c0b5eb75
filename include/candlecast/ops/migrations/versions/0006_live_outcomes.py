"""Live outcomes: every served forecast step scored once its target candle closed, rolling
figures per model version, drift alerts (one per version per day), sent reports and the forward
paper-trading ledger.

Revision ID: 0006
Revises: 0005 (champion/challenger releases)
"""

from alembic import op

revision = "0006"
down_revision = "0005"

TIMEFRAME_CHECK = "CHECK (timeframe IN ('1h', '4h', '1d', '1w', '1M'))"


LIVE_OUTCOMES_SCHEMA = f"""
        CREATE TABLE prediction_outcomes (
            prediction_id        UUID NOT NULL,
            step                 SMALLINT NOT NULL CHECK (step BETWEEN 1 AND 30),
            model_id             BIGINT NOT NULL REFERENCES models (id),
            symbol_id            BIGINT NOT NULL REFERENCES symbols (id),
            timeframe            TEXT NOT NULL {TIMEFRAME_CHECK},
            target_at            TIMESTAMPTZ NOT NULL,
            closed_at            TIMESTAMPTZ NOT NULL,
            last_close           DOUBLE PRECISION NOT NULL CHECK (last_close > 0),
            predicted_close      DOUBLE PRECISION NOT NULL CHECK (predicted_close > 0),
            actual_close         DOUBLE PRECISION NOT NULL CHECK (actual_close > 0),
            direction            TEXT NOT NULL CHECK (direction IN ('up', 'down')),
            confidence           DOUBLE PRECISION NOT NULL,
            hit                  BOOLEAN,
            log_error            DOUBLE PRECISION NOT NULL,
            random_walk_error    DOUBLE PRECISION NOT NULL,
            inside_80            BOOLEAN NOT NULL,
            source               TEXT NOT NULL CHECK (source IN ('store', 'provider')),
            scored_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (prediction_id, step),
            FOREIGN KEY (prediction_id, step)
                REFERENCES prediction_steps (prediction_id, step) ON DELETE CASCADE
        );
        -- A forecast is pending until each of its steps has an outcome: the hourly scan reads
        -- only pending forecasts, not every step ever served.
        ALTER TABLE predictions ADD COLUMN outcomes_pending BOOLEAN NOT NULL DEFAULT true;
        CREATE INDEX predictions_outcomes_pending_idx ON predictions (last_candle_at)
            WHERE outcomes_pending;
        CREATE INDEX prediction_outcomes_model_idx ON prediction_outcomes (model_id, closed_at);
        CREATE INDEX prediction_outcomes_closed_idx ON prediction_outcomes (closed_at);

        CREATE TABLE outcome_rolling (
            model_id             BIGINT NOT NULL REFERENCES models (id),
            timeframe            TEXT NOT NULL {TIMEFRAME_CHECK},
            horizon              TEXT NOT NULL CHECK (horizon IN ('h1', 'h6', 'h30', 'all')),
            day                  DATE NOT NULL,
            window_days          SMALLINT NOT NULL CHECK (window_days IN (1, 7, 30)),
            n                    INTEGER NOT NULL CHECK (n > 0),
            predictions          INTEGER NOT NULL,
            coins                INTEGER NOT NULL,
            figures              JSONB NOT NULL,
            computed_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (model_id, horizon, window_days, day)
        );
        CREATE INDEX outcome_rolling_day_idx ON outcome_rolling (day, timeframe);

        CREATE TABLE drift_alerts (
            model_id             BIGINT NOT NULL REFERENCES models (id),
            day                  DATE NOT NULL,
            reasons              JSONB NOT NULL,
            sent_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (model_id, day)
        );

        CREATE TABLE sent_reports (
            kind                 TEXT NOT NULL CHECK (kind IN ('daily', 'weekly')),
            period_end           TIMESTAMPTZ NOT NULL,
            text_path            TEXT NOT NULL,
            plot_path            TEXT NOT NULL,
            sent_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (kind, period_end)
        );

        CREATE TABLE paper_signals (
            prediction_id        UUID PRIMARY KEY REFERENCES predictions (id) ON DELETE CASCADE,
            model_id             BIGINT NOT NULL REFERENCES models (id),
            decision             TEXT NOT NULL
                                 CHECK (decision IN ('opened', 'coin_held', 'slots_full',
                                                     'paused', 'no_candle')),
            decided_at           TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE TABLE paper_positions (
            id                   BIGSERIAL PRIMARY KEY,
            model_id             BIGINT NOT NULL REFERENCES models (id),
            prediction_id        UUID NOT NULL UNIQUE REFERENCES predictions (id),
            symbol_id            BIGINT NOT NULL REFERENCES symbols (id),
            timeframe            TEXT NOT NULL {TIMEFRAME_CHECK},
            confidence           DOUBLE PRECISION NOT NULL,
            entry_candle_at      TIMESTAMPTZ NOT NULL,
            opened_at            TIMESTAMPTZ NOT NULL,
            entry_price          DOUBLE PRECISION NOT NULL CHECK (entry_price > 0),
            stake                DOUBLE PRECISION NOT NULL CHECK (stake > 0),
            status               TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
            exit_candle_at       TIMESTAMPTZ,
            closed_at            TIMESTAMPTZ,
            exit_price           DOUBLE PRECISION,
            exit_reason          TEXT CHECK (exit_reason IN ('stop_loss', 'take_profit', 'time')),
            fees                 DOUBLE PRECISION,
            pnl                  DOUBLE PRECISION,
            candles_held         INTEGER,
            CHECK ((status = 'open') = (closed_at IS NULL))
        );
        CREATE INDEX paper_positions_model_idx ON paper_positions (model_id, status, opened_at);
        CREATE TABLE paper_pauses (
            model_id             BIGINT PRIMARY KEY REFERENCES models (id),
            paused_at            TIMESTAMPTZ NOT NULL,
            reasons              JSONB NOT NULL
        );
        """


def upgrade() -> None:
    op.execute(LIVE_OUTCOMES_SCHEMA)


def downgrade() -> None:
    op.execute("ALTER TABLE predictions DROP COLUMN outcomes_pending")
    op.execute(
        "DROP TABLE paper_pauses, paper_positions, paper_signals, sent_reports, drift_alerts, "
        "outcome_rolling, prediction_outcomes"
    )
