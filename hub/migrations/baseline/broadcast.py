"""Baseline revision 0001, frozen: the tables of the broadcast feature (broadcast/: content, programmes, airings, scheduler lease), as the last release before migrations
created them. Never edit: a change to these tables goes into a new revision."""

import sqlalchemy as sa
from alembic import op

TABLES = (
    "airings",
    "broadcast_content",
    "programmes",
    "scheduler_lease",
    "airing_receipts",
    "programme_items",
    "programme_skips",
    "programme_steps",
)  # in creation order (foreign keys first)


def create() -> None:
    op.create_table(
        "airings",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_at", sa.DateTime(), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("targeted", sa.Integer(), nullable=False),
        sa.Column("played", sa.Integer(), nullable=False),
        sa.Column("skew_ms", sa.Float(), nullable=True),
        sa.Column("interrupted_by", sa.String(length=64), nullable=True),
        sa.Column("order", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("programme_id", "occurrence_at", name="uq_airing_occurrence"),
    )
    op.create_index("ix_airings_area_start", "airings", ["district", "commune", "start_at"], unique=False)
    op.create_index("ix_airings_programme_id", "airings", ["programme_id"], unique=False)
    op.create_table(
        "broadcast_content",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("original_name", sa.String(length=255), nullable=True),
        sa.Column("original_path", sa.String(length=500), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("loudness_lufs", sa.Float(), nullable=False),
        sa.Column("true_peak_dbtp", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_broadcast_content_sha256", "broadcast_content", ["sha256"], unique=False)
    op.create_index("ix_content_area", "broadcast_content", ["district", "commune"], unique=False)
    op.create_table(
        "programmes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("commune", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_ids", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("gap_s", sa.Float(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("anchor_at", sa.DateTime(), nullable=True),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_programmes_area_state", "programmes", ["district", "commune", "state"], unique=False)
    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "airing_receipts",
        sa.Column("airing_id", sa.String(length=64), nullable=False),
        sa.Column("speaker_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ready_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("started_offset_ms", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("played_s", sa.Float(), nullable=True),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["airing_id"], ["airings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("airing_id", "speaker_key"),
    )
    op.create_table(
        "programme_items",
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["programme_id"], ["programmes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("programme_id", "position"),
    )
    op.create_index("ix_programme_items_content_id", "programme_items", ["content_id"], unique=False)
    op.create_table(
        "programme_skips",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_at", sa.DateTime(), nullable=False),
        sa.Column("speakers", sa.JSON(), nullable=True),
        sa.Column("by_programme_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["by_programme_id"], ["programmes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["programme_id"], ["programmes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_programme_skips_by_programme_id", "programme_skips", ["by_programme_id"], unique=False
    )
    op.create_index("ix_programme_skips_programme_id", "programme_skips", ["programme_id"], unique=False)
    op.create_table(
        "programme_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["programme_id"], ["programmes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_programme_steps_programme_id", "programme_steps", ["programme_id"], unique=False)


def drop() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)  # its indexes go with it
