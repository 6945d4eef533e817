"""Schema migrations: the revisions build exactly the models (SQLite and PostgreSQL), and the start check
recognises every state a database can be in: empty, made by create_all, behind, from before migrations,
older than the baseline, ahead of the code."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Column, Integer, String, Table, inspect, text

from hub.cli import main
from hub.compose import open_database
from hub.core.db import Base, Database
from hub.migrations import schema

# A later release's revisions, as the lead writes them when a feature adds a table, then a column to it (batch
# mode: SQLite cannot add a NOT NULL column or change a constraint in place).
# The head of this release's migrations; the simulated later release numbers its revisions after it.
# A branch names its revision after itself until the lead re-chains it, so the head is asked of Alembic and the
# later revisions are numbered as `db revision` numbers them.
HEAD = schema.head()
_NUMBERED = f"{len(schema.known_revisions()):04d}"  # `db revision` numbers the next one after the count
N1, N2 = f"{int(_NUMBERED) + 1:04d}", f"{int(_NUMBERED) + 2:04d}"

NEXT_REVISIONS = {
    f"{N1}_camera_notes.py": '''"""camera_notes

Revision ID: @N1@
Revises: @HEAD@
"""

import sqlalchemy as sa
from alembic import op

revision = "@N1@"
down_revision = "@HEAD@"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("camera_notes_pkey")),
    )


def downgrade() -> None:
    op.drop_table("camera_notes")
''',
    f"{N2}_camera_notes_author.py": '''"""camera_notes.author

Revision ID: @N2@
Revises: @N1@
"""

import sqlalchemy as sa
from alembic import op

revision = "@N2@"
down_revision = "@N1@"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("camera_notes") as batch:
        batch.add_column(sa.Column("author", sa.String(64), nullable=False, server_default="?"))


def downgrade() -> None:
    with op.batch_alter_table("camera_notes") as batch:
        batch.drop_column("author")
''',
}
NEXT_REVISIONS = {
    name: src.replace("@N2@", N2).replace("@N1@", N1).replace("@HEAD@", HEAD)
    for name, src in NEXT_REVISIONS.items()
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("postgres_db"))


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = open_database(url)
    yield database
    database.close()


def columns(db: Database, table: str) -> set[str]:
    with db.engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def test_migrations_build_exactly_the_models(db: Database) -> None:
    assert schema.read_state(db).kind == "empty"
    state = schema.prepare(db, auto_upgrade=False)  # an empty database is created, never "behind"
    assert (state.kind, state.revision) == ("current", schema.head())
    assert schema.differences(db) == []  # autogenerate finds nothing between the models and the revisions
    with db.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert tables == set(schema.target_metadata().tables) | {"alembic_version"}


def test_create_all_database_is_stamped_head(db: Database) -> None:
    """What the tests and tools make with create_all is this code's schema: recorded, nothing changed."""
    db.create_all()
    assert schema.read_state(db).kind == "unversioned"
    assert schema.differences(db) == []
    assert schema.prepare(db, auto_upgrade=False).kind == "current"


@pytest.fixture
def camera_notes_model() -> Iterator[Table]:
    """The model of a later release's table (removed from the shared metadata afterwards)."""
    notes = Table(
        "camera_notes",
        Base.metadata,
        Column("id", Integer, primary_key=True),
        Column("note", String(200), nullable=False),
        Column("author", String(64), nullable=False, server_default="?"),
    )
    yield notes
    Base.metadata.remove(notes)


def copy_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, revisions: dict[str, str]) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in revisions.items():
        (folder / "versions" / name).write_text(source)
    monkeypatch.setattr(schema, "MIGRATIONS_DIR", folder)
    return folder


@pytest.fixture
def next_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, camera_notes_model: Table) -> Path:
    """The migrations and models as a later release ships them: today's plus a table and then a column."""
    return copy_migrations(tmp_path, monkeypatch, NEXT_REVISIONS)


def upgrade_to(db: Database, revision: str) -> None:
    command.upgrade(schema.alembic_config(db), revision)


def hub_config(tmp_path: Path, url: str, auto_upgrade: bool = False) -> str:
    path = tmp_path / "hub.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\ninflux: {{enabled: false}}\nmqtt: {{port: 1}}\n"
        f"database: {{url: '{url}', auto_upgrade: {str(auto_upgrade).lower()}}}\n"
    )
    return str(path)


def test_a_database_behind_the_code_refuses_to_start_until_upgraded(
    db: Database, url: str, tmp_path: Path, next_release: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upgrade_to(db, HEAD)  # what today's release made
    assert schema.read_state(db).kind == "behind"
    with pytest.raises(schema.SchemaBehind, match="db upgrade"):
        schema.prepare(db, auto_upgrade=False)

    cfg = hub_config(tmp_path, url)
    assert main(["--config", cfg, "run"]) == 4  # refused before MQTT or the web app
    err = capsys.readouterr().err
    assert f"python -m hub --config {cfg} db upgrade" in err and HEAD in err and N2 in err
    assert main(["--config", cfg, "db", "current"]) == 4
    assert "camera_notes" not in inspect(db.engine).get_table_names()

    assert main(["--config", cfg, "db", "upgrade"]) == 0
    assert f"{HEAD} → {N2}" in capsys.readouterr().out
    assert columns(db, "camera_notes") == {"id", "note", "author"}
    assert schema.differences(db) == []
    assert main(["--config", cfg, "db", "current"]) == 0
    assert main(["--config", cfg, "db", "history"]) == 0
    history = capsys.readouterr().out
    assert f"{N2}  camera_notes.author  ← hiện tại, mới nhất" in history and "0001  Baseline" in history


def test_auto_upgrade_upgrades_at_start(db: Database, next_release: Path) -> None:
    upgrade_to(db, HEAD)
    state = schema.prepare(db, auto_upgrade=True)
    assert (state.kind, state.revision) == ("current", N2)
    assert schema.differences(db) == []


def test_a_database_from_before_migrations_is_stamped_baseline_then_upgraded(
    db: Database, next_release: Path
) -> None:
    """Tables and no alembic_version, not equal to the models (a later release on a database of the last
    release before migrations): refused without auto_upgrade; `db upgrade` stamps it 0001 and applies what
    came after."""
    upgrade_to(db, "0001")
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert schema.read_state(db).kind == "unversioned"
    with pytest.raises(schema.SchemaBehind, match="trước khi có migration"):
        schema.prepare(db, auto_upgrade=False)
    assert schema.upgrade(db) == (None, N2)
    assert schema.read_state(db).kind == "current" and schema.differences(db) == []


def test_create_all_of_a_later_release_is_stamped_its_head(db: Database, next_release: Path) -> None:
    db.create_all()
    assert schema.prepare(db, auto_upgrade=False).revision == N2


def test_a_database_older_than_the_baseline_is_not_trusted(db: Database) -> None:
    """`airing_receipts.played_s` came after the table: a database from before that cannot be stamped as the
    baseline and served; the upgrade names what is still missing."""
    upgrade_to(db, "0001")  # the last release before migrations made the baseline's tables …
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("ALTER TABLE airing_receipts DROP COLUMN played_s"))  # … but this one is older
    with pytest.raises(schema.SchemaBehind):
        schema.prepare(db, auto_upgrade=False)
    with pytest.raises(schema.SchemaError, match="played_s"):
        schema.upgrade(db)


RENAME_CONSTRAINT = '''"""cameras: the unique constraint dropped and made again, by the name CONSTRAINT_NAMES gives it

Revision ID: @N1@
Revises: @HEAD@
"""

from alembic import op

from hub.migrations.schema import CONSTRAINT_NAMES

revision = "@N1@"
down_revision = "@HEAD@"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cameras", naming_convention=CONSTRAINT_NAMES) as batch:
        batch.drop_constraint("cameras_district_commune_slug_key", type_="unique")
        batch.create_unique_constraint("cameras_district_commune_slug_key", ["district", "commune", "slug"])


def downgrade() -> None:
    pass
'''
RENAME_CONSTRAINT = RENAME_CONSTRAINT.replace("@N1@", N1).replace("@HEAD@", HEAD)


def test_a_revision_finds_an_unnamed_constraint_by_its_postgresql_name(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constraints are unnamed in the models (as before migrations): PostgreSQL names them, SQLite does not.
    A revision that changes one finds it on both by CONSTRAINT_NAMES, on a database made by create_all."""
    db.create_all()
    schema.prepare(db, auto_upgrade=False)  # stamped HEAD, the head of today's migrations
    copy_migrations(tmp_path, monkeypatch, {f"{N1}_cameras_unique.py": RENAME_CONSTRAINT})
    assert schema.prepare(db, auto_upgrade=True).revision == N1
    assert schema.differences(db) == []
    with db.engine.connect() as conn:
        uniques = inspect(conn).get_unique_constraints("cameras")
    assert [u["column_names"] for u in uniques] == [["district", "commune", "slug"]]


def test_db_revision_writes_what_the_models_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, camera_notes_model: Table, url: str
) -> None:
    """A developer added a table to the models: `db revision` writes the revision that creates it, numbered
    after the last, and applied it brings the database to the models."""
    folder = copy_migrations(tmp_path, monkeypatch, {})
    assert main(["--config", hub_config(tmp_path, url), "db", "revision", "-m", "camera notes"]) == 0
    written = folder / "versions" / f"{N1}_camera_notes.py"
    source = written.read_text()
    assert (
        f"revision: str = '{N1}'" in source
        and f"down_revision: str | Sequence[str] | None = '{HEAD}'" in source
    )
    assert "op.create_table('camera_notes'" in source
    db = open_database(url)
    try:
        assert schema.prepare(db, auto_upgrade=False).revision == N1  # empty: created at the new head
        assert schema.differences(db) == []
    finally:
        db.close()


def test_a_database_ahead_of_the_code_is_refused(db: Database, url: str, tmp_path: Path) -> None:
    schema.prepare(db, auto_upgrade=False)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    for auto in (False, True):
        with pytest.raises(schema.SchemaError, match="f00d"):
            schema.prepare(db, auto_upgrade=auto)
    assert main(["--config", hub_config(tmp_path, url), "db", "upgrade"]) == 4
