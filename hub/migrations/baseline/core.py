"""Baseline revision 0001, frozen: the core's tables (hub/core: registry, state, transitions, users, sessions, tokens, settings, audit, villages, speakers), as the last release before migrations
created them. Never edit: a change to these tables goes into a new revision."""

import sqlalchemy as sa
from alembic import op

TABLES = (
    "agents",
    "areas",
    "audit_log",
    "cameras",
    "settings",
    "speakers",
    "transitions",
    "users",
    "villages",
    "api_tokens",
    "snapshots",
    "web_sessions",
)  # in creation order (foreign keys first)


def create() -> None:
    op.create_table(
        "agents",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_since", sa.DateTime(), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("boot", sa.String(length=64), nullable=True),
        sa.Column("cameras", sa.Integer(), nullable=True),
        sa.Column("queue", sa.Integer(), nullable=True),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("seq_gaps", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_agents_district", "agents", ["district"], unique=False)
    op.create_table(
        "areas",
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("district", "commune"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("commune", sa.String(length=64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_at", "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_target", "audit_log", ["target"], unique=False)
    op.create_table(
        "cameras",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("agent_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_since", sa.DateTime(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("open_ms", sa.Float(), nullable=True),
        sa.Column("brightness", sa.Float(), nullable=True),
        sa.Column("sharpness", sa.Float(), nullable=True),
        sa.Column("motion", sa.Float(), nullable=True),
        sa.Column("last_ts", sa.DateTime(), nullable=True),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=True),
        sa.Column("snapshot_ts", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
        sa.UniqueConstraint("district", "commune", "slug"),
    )
    op.create_index("ix_cameras_agent_key", "cameras", ["agent_key"], unique=False)
    op.create_index("ix_cameras_area_status", "cameras", ["district", "commune", "status"], unique=False)
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "speakers",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("village", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_since", sa.DateTime(), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("volume", sa.Integer(), nullable=True),
        sa.Column("amplifier", sa.String(length=16), nullable=True),
        sa.Column("signal_dbm", sa.Float(), nullable=True),
        sa.Column("disk_free_mb", sa.Float(), nullable=True),
        sa.Column("playing", sa.String(length=64), nullable=True),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_speakers_area", "speakers", ["district", "commune"], unique=False)
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_key", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transitions_area_at", "transitions", ["district", "commune", "at"], unique=False)
    op.create_index(
        "ix_transitions_subject_at", "transitions", ["subject_kind", "subject_key", "at"], unique=False
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("commune", sa.String(length=64), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "villages",
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("district", "commune", "slug"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "snapshots",
        sa.Column("camera_key", sa.String(length=200), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("ts", sa.DateTime(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["camera_key"], ["cameras.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("camera_key"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"], unique=False)


def drop() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)  # its indexes go with it
