"""relays: the allow-list of upstream streams, relay reports per airing, relay columns of broadcast content;
the level each speaker sent to its amplifier per airing (airing_receipts.level_dbfs)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "relay_upstreams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url"),
    )
    op.create_table(
        "relay_sessions",
        sa.Column("airing_id", sa.String(length=64), nullable=False),
        sa.Column("upstream_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("relayed_s", sa.Float(), nullable=False),
        sa.Column("gap_s", sa.Float(), nullable=False),
        sa.Column("fallback_s", sa.Float(), nullable=False),
        sa.Column("gaps", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("airing_id"),
    )
    with op.batch_alter_table("airing_receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("level_dbfs", sa.Float(), nullable=True))
    with op.batch_alter_table("broadcast_content", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relay_upstream_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("relay_fallback_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcast_content", schema=None) as batch_op:
        batch_op.drop_column("relay_fallback_id")
        batch_op.drop_column("relay_upstream_id")
    with op.batch_alter_table("airing_receipts", schema=None) as batch_op:
        batch_op.drop_column("level_dbfs")
    op.drop_table("relay_sessions")
    op.drop_table("relay_upstreams")
