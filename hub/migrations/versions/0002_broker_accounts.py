"""broker accounts: one row per device account provisioned on the broker

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 20:17:27.263953
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broker_accounts",
        sa.Column("username", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("device_key", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("commune", sa.String(length=64), nullable=True),
        sa.Column("communes", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_set_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    with op.batch_alter_table("broker_accounts", schema=None) as batch_op:
        batch_op.create_index("ix_broker_accounts_device", ["kind", "device_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("broker_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_broker_accounts_device")

    op.drop_table("broker_accounts")
