"""speakers.pending: a loudspeaker that registered itself waits for an administrator's approval

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 20:31:45.400517
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("speakers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("speakers", schema=None) as batch_op:
        batch_op.drop_column("pending")
