"""broadcast content: the voice and speed a text was spoken with (chosen by the officer)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcast_content", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tts_voice", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("tts_speed", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcast_content", schema=None) as batch_op:
        batch_op.drop_column("tts_speed")
        batch_op.drop_column("tts_voice")
