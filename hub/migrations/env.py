"""Alembic's environment for the hub: the target is every table of the core and of each feature, SQLite gets
batch mode (it cannot ALTER most things in place), and on PostgreSQL one lock serialises hubs that start at
the same time against the same database.

Alembic runs this file for every command; `hub.migrations.schema` builds the config and hands over the
engine (in `config.attributes["engine"]`), so no alembic.ini is needed.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from hub.migrations.schema import MIGRATION_LOCK_KEY, configure_options, target_metadata


def _lock(conn: Connection) -> None:
    # Released with the transaction. A second hub waits here, then finds the revision already applied.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def run_online() -> None:
    engine: Engine = context.config.attributes["engine"]
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata(), **configure_options())
        with context.begin_transaction():
            _lock(conn)
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("the hub's migrations run against a database (no offline --sql mode)")
run_online()
