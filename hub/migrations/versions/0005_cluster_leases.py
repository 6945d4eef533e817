"""cluster: leases of partitions and leader duties (replacing the scheduler's lock row), the login limit shared in
SQL, and the outbox claim token (crash recovery touches only the dead sender's rows)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 21:11:40.190370
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("owner", sa.String(length=160), nullable=True),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=True),
        sa.Column("renewed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_client_at", ["client", "at"], unique=False)

    op.drop_table("scheduler_lease")
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.drop_column("claim_token")

    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_client_at")

    op.drop_table("login_failures")
    op.drop_table("leases")
