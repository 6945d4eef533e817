"""areas: the area tree after the 2025 reform (province → grouping → commune → village), former names of
communes (merged or formed in 2025), users scoped to a node

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 22:07:48.851170
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "area_nodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("commune", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["area_nodes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
        sa.UniqueConstraint("parent_id", "slug"),
    )
    with op.batch_alter_table("area_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_area_nodes_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "area_aliases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("commune", sa.String(length=64), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["node_id"], ["area_nodes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("node_id", "name"),
    )
    with op.batch_alter_table("area_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_area_aliases_node_id"), ["node_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("area_id")

    with op.batch_alter_table("area_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_area_aliases_node_id"))

    op.drop_table("area_aliases")
    with op.batch_alter_table("area_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_area_nodes_parent_id"))

    op.drop_table("area_nodes")
