"""Baseline: the schema of the last release before migrations (create_all of that code)

A database made by that release (tables, no alembic_version) is stamped with this revision, then upgraded.
The tables are written out in hub/migrations/baseline/, by room.

Revision ID: 0001
Revises:
Create Date: 2026-12-07 19:38:03
"""

from collections.abc import Sequence

from hub.migrations.baseline import alerts_notify, broadcast, core

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    core.create()
    alerts_notify.create()
    broadcast.create()


def downgrade() -> None:
    broadcast.drop()
    alerts_notify.drop()
    core.drop()
