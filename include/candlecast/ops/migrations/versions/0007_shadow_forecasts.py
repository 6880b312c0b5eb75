"""Shadow forecasts: a challenger's forecast on the same request as the champion's, stored
beside it (`shadow`, paired by `shadow_of`) and never returned; outcomes score both.

Revision ID: 0007
Revises: 0006 (live outcomes)
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE predictions
            ADD COLUMN shadow    BOOLEAN NOT NULL DEFAULT false,
            ADD COLUMN shadow_of UUID REFERENCES predictions (id) ON DELETE CASCADE,
            ADD CONSTRAINT predictions_shadow_paired CHECK (shadow = (shadow_of IS NOT NULL));
        -- A champion's shadows (the pair live outcomes compare); only shadow rows are indexed.
        CREATE INDEX predictions_shadow_of_idx ON predictions (shadow_of) WHERE shadow;
        """
    )


def downgrade() -> None:
    op.execute(
        "DROP INDEX predictions_shadow_of_idx; "
        "ALTER TABLE predictions DROP CONSTRAINT predictions_shadow_paired, "
        "DROP COLUMN shadow_of, DROP COLUMN shadow"
    )
