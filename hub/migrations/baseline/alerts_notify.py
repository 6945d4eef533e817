"""Baseline revision 0001, frozen: the tables of the alerts (hub/alerts) and notify (hub/notify) features, as the last release before migrations
created them. Never edit: a change to these tables goes into a new revision."""

import sqlalchemy as sa
from alembic import op

TABLES = (
    "alert_acks",
    "alert_groups",
    "alert_rule_overrides",
    "alert_silences",
    "alerts",
    "notify_outbox",
    "notify_tokens",
)  # in creation order (foreign keys first)


def create() -> None:
    op.create_table(
        "alert_acks",
        sa.Column("alert_id", sa.String(length=16), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "episode"),
    )
    op.create_table(
        "alert_groups",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("last_notice_at", sa.DateTime(), nullable=True),
        sa.Column("told", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "alert_rule_overrides",
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("district", "kind"),
    )
    op.create_table(
        "alert_silences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("commune", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("device", sa.String(length=300), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expired_at", sa.DateTime(), nullable=True),
        sa.Column("expired_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_silences_ends", "alert_silences", ["ends_at"], unique=False)
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("parent", sa.String(length=300), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("last_true", sa.DateTime(), nullable=False),
        sa.Column("fired_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("flaps", sa.JSON(), nullable=False),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("silenced_by", sa.Integer(), nullable=True),
        sa.Column("inhibited", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_alerts_area", "alerts", ["district", "commune"], unique=False)
    op.create_index("ix_alerts_status", "alerts", ["status"], unique=False)
    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("target_name", sa.String(length=200), nullable=False),
        sa.Column("route", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("notice_status", sa.String(length=16), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("snapshot_camera", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(), nullable=False),
        sa.Column("held_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("image", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "channel", "target", name="uq_notify_event_target"),
    )
    op.create_index(
        "ix_notify_area_created", "notify_outbox", ["district", "commune", "created_at"], unique=False
    )
    op.create_index("ix_notify_state_due", "notify_outbox", ["state", "next_try_at"], unique=False)
    op.create_table(
        "notify_tokens",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("seed_hash", sa.String(length=64), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("refresh_started_at", sa.DateTime(), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("blocked_reason", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("channel"),
    )


def drop() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)  # its indexes go with it
