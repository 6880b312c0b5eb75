"""The live gate and reports that are retried: each version's live comparison with its champion
(`models.live_gate`, JSONB, rewritten as the shadows' outcomes accumulate), the stage `rejected`
(a challenger the live gate retired at its deadline: never served, never a rollback target) and
its release action `reject`; a sent report's delivery (`status`: sending, sent, failed; the
attempts made; its text, so any worker can retry it), so a failed post is retried by the next
run once.

Revision ID: 0009
Revises: 0008 (rankings)
"""

from alembic import op

revision = "0009"
down_revision = "0008"

STAGES = "('champion', 'challenger', 'retired', 'rolled_back', 'pruned', 'rejected')"
ACTIONS = "('register', 'first_champion', 'promote', 'auto_promote', 'rollback', 'prune', 'reject')"


def upgrade() -> None:
    op.execute(
        f"""
        ALTER TABLE models ADD COLUMN live_gate JSONB NOT NULL DEFAULT '{{}}'::jsonb,
            DROP CONSTRAINT models_stage_check,
            ADD CONSTRAINT models_stage_check CHECK (stage IN {STAGES});
        ALTER TABLE model_releases DROP CONSTRAINT model_releases_action_check,
            ADD CONSTRAINT model_releases_action_check CHECK (action IN {ACTIONS});
        ALTER TABLE sent_reports
            ADD COLUMN status TEXT NOT NULL DEFAULT 'sent'
                CHECK (status IN ('sending', 'sent', 'failed')),
            ADD COLUMN attempts SMALLINT NOT NULL DEFAULT 1,
            ADD COLUMN delivered_at TIMESTAMPTZ,
            ADD COLUMN body TEXT;
        UPDATE sent_reports SET delivered_at = sent_at;
        CREATE INDEX sent_reports_failed_idx ON sent_reports (period_end) WHERE status = 'failed';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX sent_reports_failed_idx;
        ALTER TABLE sent_reports DROP COLUMN body, DROP COLUMN delivered_at, DROP COLUMN attempts,
            DROP COLUMN status;
        UPDATE models SET stage = 'retired' WHERE stage = 'rejected';
        DELETE FROM model_releases WHERE action = 'reject';
        ALTER TABLE model_releases DROP CONSTRAINT model_releases_action_check,
            ADD CONSTRAINT model_releases_action_check CHECK (action IN ('register',
            'first_champion', 'promote', 'auto_promote', 'rollback', 'prune'));
        ALTER TABLE models DROP CONSTRAINT models_stage_check,
            ADD CONSTRAINT models_stage_check CHECK (stage IN ('champion', 'challenger',
            'retired', 'rolled_back', 'pruned')),
            DROP COLUMN live_gate;
        """
    )
