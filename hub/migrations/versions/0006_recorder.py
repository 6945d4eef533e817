"""recorder: the latest report of each recorder (NVR/DVR); recurring maintenance windows (alert_silences.recurrence);
escalations of unacknowledged alerts (notify_escalations)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recorders",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("received", sa.DateTime(), nullable=False),
        sa.Column("days_kept", sa.Float(), nullable=True),
        sa.Column("free_mb", sa.Float(), nullable=True),
        sa.Column("capacity_mb", sa.Float(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("recorders", schema=None) as batch_op:
        batch_op.create_index("ix_recorders_area", ["district", "commune"], unique=False)
    with op.batch_alter_table("alert_silences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recurrence", sa.JSON(), nullable=True))
    op.create_table(
        "notify_escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("notice", sa.JSON(), nullable=False),
        sa.Column("after_min", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("devices", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "route"),
    )
    with op.batch_alter_table("notify_escalations", schema=None) as batch_op:
        batch_op.create_index("ix_notify_escalations_due", ["state", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notify_escalations", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_escalations_due")
    op.drop_table("notify_escalations")
    with op.batch_alter_table("alert_silences", schema=None) as batch_op:
        batch_op.drop_column("recurrence")
    with op.batch_alter_table("recorders", schema=None) as batch_op:
        batch_op.drop_index("ix_recorders_area")
    op.drop_table("recorders")
