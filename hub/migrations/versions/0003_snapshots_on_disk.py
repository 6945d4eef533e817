"""snapshots on disk: the JPEG leaves SQL for a file; the row keeps its path, size and sha256

A snapshot is the camera's latest picture, replaced at the next probe that takes one (minutes): the rows of the
older release are deleted rather than written out, so the upgrade needs no file paths and no time per camera.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 20:22:45.917923
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM snapshots"))
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("path", sa.String(length=300), nullable=False))
        batch_op.add_column(sa.Column("size", sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=False))
        batch_op.drop_column("jpeg")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM snapshots"))
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("jpeg", sa.LargeBinary(), nullable=False))
        batch_op.drop_column("sha256")
        batch_op.drop_column("size")
        batch_op.drop_column("path")
