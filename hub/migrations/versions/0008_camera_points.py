"""camera_points; cameras' point, purpose, owner and maintainer; speakers' position

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CAMERA_COLUMNS = (
    ("point", 64),
    ("purpose", 16),
    ("owner_kind", 16),
    ("owner_name", 200),
    ("maintainer_name", 200),
    ("maintainer_phone", 20),
)


def upgrade() -> None:
    op.create_table(
        "camera_points",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("village", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("camera_points_pkey")),
    )
    op.create_index("ix_camera_points_area", "camera_points", ["district", "commune"], unique=False)
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        for name, length in _CAMERA_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    with op.batch_alter_table("speakers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("speakers", schema=None) as batch_op:
        batch_op.drop_column("lon")
        batch_op.drop_column("lat")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        for name, _ in reversed(_CAMERA_COLUMNS):
            batch_op.drop_column(name)
    op.drop_index("ix_camera_points_area", table_name="camera_points")
    op.drop_table("camera_points")
