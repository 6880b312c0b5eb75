"""Releases: a stage per model version (champion, challenger, retired, rolled_back, pruned), one
champion per timeframe, the gate's figures, the data a version saw, and `model_releases`, the
history of every change.

Versions trained before releases were `candidate`: the newest of each timeframe (what was being
served) becomes its champion, the others challengers, with one history row each.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"

STAGES = "('champion', 'challenger', 'retired', 'rolled_back', 'pruned')"
ACTIONS = "('register', 'first_champion', 'promote', 'auto_promote', 'rollback', 'prune')"


def upgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE models
            ADD COLUMN data_end          TIMESTAMPTZ,
            ADD COLUMN gate              JSONB NOT NULL DEFAULT '{{}}'::jsonb,
            ADD COLUMN stage_changed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
            ADD COLUMN pruned_at         TIMESTAMPTZ;
        UPDATE models SET stage = 'challenger' WHERE stage NOT IN {STAGES};
        UPDATE models SET stage = 'champion'
        WHERE id IN (SELECT DISTINCT ON (timeframe) id FROM models
                     ORDER BY timeframe, trained_at DESC, id DESC);
        ALTER TABLE models ALTER COLUMN stage SET DEFAULT 'challenger',
            ADD CONSTRAINT models_stage_check CHECK (stage IN {STAGES});
        CREATE UNIQUE INDEX models_one_champion_idx ON models (timeframe)
            WHERE stage = 'champion';
        CREATE TABLE model_releases (
            id             BIGSERIAL PRIMARY KEY,
            timeframe      TEXT NOT NULL CHECK (timeframe IN ('1h', '4h', '1d', '1w', '1M')),
            action         TEXT NOT NULL CHECK (action IN {ACTIONS}),
            from_model_id  BIGINT REFERENCES models (id),
            to_model_id    BIGINT REFERENCES models (id),
            actor          TEXT NOT NULL,
            reason         TEXT NOT NULL DEFAULT '',
            forced         BOOLEAN NOT NULL DEFAULT false,
            gate           JSONB NOT NULL DEFAULT '{{}}'::jsonb,
            created_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
        );
        CREATE INDEX model_releases_timeframe_idx ON model_releases (timeframe, created_at DESC);
        INSERT INTO model_releases (timeframe, action, to_model_id, actor, reason)
        SELECT timeframe, CASE WHEN stage = 'champion' THEN 'first_champion' ELSE 'register' END,
               id, 'migration 0005', 'trained before releases; the newest was being served'
        FROM models ORDER BY trained_at;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE model_releases;
        DROP INDEX models_one_champion_idx;
        ALTER TABLE models DROP CONSTRAINT models_stage_check;
        UPDATE models SET stage = 'candidate';
        ALTER TABLE models ALTER COLUMN stage SET DEFAULT 'candidate',
            DROP COLUMN data_end, DROP COLUMN gate, DROP COLUMN stage_changed_at,
            DROP COLUMN pruned_at;
        """
    )
