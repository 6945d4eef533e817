"""Brings a database to the schema of this code, or says why it will not.

The states a database can be in, and what `prepare` (run by `Hub.start` under `python -m hub run`, and by
every CLI command that opens the database) does with each:

| state | what it is | prepare |
|---|---|---|
| empty | none of the hub's tables | upgraded to head (that creates them) |
| unversioned | the hub's tables, no `alembic_version` | equal to the models (create_all of this code: tests, tools) → stamped head; otherwise a release before migrations → stamped baseline and upgraded (`auto_upgrade`), else refused |
| current | at head | nothing |
| behind | at an older revision | upgraded (`auto_upgrade`), else refused with the command to run |
| ahead | at a revision this code does not know (a newer release wrote it) | refused |
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect

from hub.compose import table_modules
from hub.core.db import CORE_TABLE_MODULES, Base, Database

log = logging.getLogger("hub.schema")

MIGRATIONS_DIR = Path(__file__).parent
BASELINE = "0001"  # the schema of the last release before migrations
MIGRATION_LOCK_KEY = 0x6875625F736368  # "hub_sch": one advisory lock per PostgreSQL database
# Constraint names as PostgreSQL chooses them. The models leave constraints unnamed, as the releases before
# migrations did: PostgreSQL names them so, SQLite not at all. A revision that drops or changes one uses this
# name, in `op.batch_alter_table(table, naming_convention=CONSTRAINT_NAMES)`, so that the same revision finds
# it on both (batch mode names SQLite's unnamed constraints by this convention when it copies the table).
CONSTRAINT_NAMES = {
    "ix": "ix_%(column_0_label)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}
CONFIG_PLACEHOLDER = "<tệp cấu hình>"
UPGRADE_COMMAND = f"python -m hub --config {CONFIG_PLACEHOLDER} db upgrade"

# Alembic says at INFO what every connection does ("Context impl SQLiteImpl" …); the hub logs the one line
# that matters (what was upgraded or stamped) itself.
logging.getLogger("alembic").setLevel(logging.WARNING)


class SchemaError(RuntimeError):
    """The database cannot be used by this code as it is; the message says what to do."""


class SchemaBehind(SchemaError):
    def __init__(self, current: str | None, head: str) -> None:
        was = (
            f"ở phiên bản lược đồ {current}"
            if current
            else "do một bản phát hành trước khi có migration tạo ra"
        )
        super().__init__(
            f"Cơ sở dữ liệu {was}, mã này cần {head}. Hãy sao lưu rồi chạy `{UPGRADE_COMMAND}` "
            "(hoặc đặt database.auto_upgrade: true để hub tự nâng cấp khi khởi động)."
        )
        self.current = current
        self.head = head


def for_config(exc: SchemaError, config_path: str) -> str:
    """The message with the config file the command was given, where it names the command to run."""
    return str(exc).replace(CONFIG_PLACEHOLDER, config_path)


def target_metadata() -> MetaData:
    """Every table of the core and of each feature, on one MetaData."""
    for name in (*CORE_TABLE_MODULES, *table_modules()):
        importlib.import_module(name)
    return Base.metadata


def configure_options() -> dict[str, Any]:
    """What env.py and the comparisons here pass to Alembic: the same options, so they agree."""
    return {"render_as_batch": True, "compare_type": True}


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = db.engine
    return cfg


def scripts() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg)


def head() -> str:
    heads = scripts().get_heads()
    if len(heads) != 1:  # two revisions with the same parent: a merge of branches that forgot its migration
        raise SchemaError(f"the migrations have {len(heads)} heads ({', '.join(heads)}); merge them")
    return heads[0]


def known_revisions() -> set[str]:
    return {s.revision for s in scripts().walk_revisions()}


@dataclass(frozen=True)
class SchemaState:
    revision: str | None  # what alembic_version says; None when it is absent or empty
    head: str
    hub_tables: tuple[str, ...]  # the models' tables present in the database
    known: bool  # the revision is one of this code's

    @property
    def kind(self) -> str:
        if self.revision is None:
            return "unversioned" if self.hub_tables else "empty"
        if self.revision == self.head:
            return "current"
        return "behind" if self.known else "ahead"


def read_state(db: Database) -> SchemaState:
    model_tables = set(target_metadata().tables)
    with db.engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        present = tuple(sorted(model_tables & set(inspect(conn).get_table_names())))
    known = revision is None or revision in known_revisions()
    return SchemaState(revision=revision, head=head(), hub_tables=present, known=known)


def differences(db: Database, tables: Iterable[str] | None = None) -> list[Any]:
    """Autogenerate's comparison of the database with the models (empty: they agree). `tables` limits it to
    those names (others in the database are then ignored)."""
    only = set(tables) if tables is not None else None

    def include_name(name: str | None, type_: str, _parent: Any) -> bool:
        return only is None or type_ != "table" or name in only

    opts = {**configure_options(), "include_name": include_name}
    with db.engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=opts), target_metadata()))


def _model_differences(db: Database) -> list[Any]:
    return differences(db, target_metadata().tables)


def _describe(diffs: list[Any], limit: int = 8) -> str:
    lines = [f"  - {d!r}"[:200] for d in diffs[:limit]]
    if len(diffs) > limit:
        lines.append(f"  - … và {len(diffs) - limit} khác biệt nữa")
    return "\n".join(lines)


def stamp(db: Database, revision: str) -> None:
    command.stamp(alembic_config(db), revision)


def _refuse_ahead(state: SchemaState) -> None:
    if state.kind == "ahead":
        raise SchemaError(
            f"Cơ sở dữ liệu ở phiên bản lược đồ {state.revision}, mã này không biết phiên bản đó (một bản phát "
            f"hành mới hơn đã nâng cấp nó; mã này dừng ở {state.head}). Hãy chạy bản mới hơn, hoặc khôi phục "
            "một bản sao lưu."
        )


def upgrade(db: Database) -> tuple[str | None, str]:
    """Brings any database (empty, unversioned, behind) to head. Returns (revision before, head)."""
    state = read_state(db)
    _refuse_ahead(state)
    before = state.revision
    adopted = state.kind == "unversioned"
    if adopted:
        if not _model_differences(db):
            stamp(db, state.head)
            log.info("database made by create_all of this release: stamped %s", state.head)
            return before, state.head
        stamp(db, BASELINE)
        log.info("database made by a release before migrations: stamped %s", BASELINE)
    command.upgrade(alembic_config(db), "head")
    if adopted:
        # The baseline is the last release before migrations; a database older than that cannot be trusted
        # to have become what the models say.
        left = _model_differences(db)
        if left:
            raise SchemaError(
                "Cơ sở dữ liệu cũ hơn bản phát hành gốc của migration: sau khi nâng cấp vẫn còn khác với mã:\n"
                + _describe(left)
            )
    if before != state.head:
        log.info("database schema upgraded from %s to %s", before or state.kind, state.head)
    return before, state.head


def prepare(db: Database, auto_upgrade: bool) -> SchemaState:
    """What a start does before touching the database: see the module's table. Raises SchemaBehind (behind,
    or from before migrations, without `auto_upgrade`) or SchemaError (ahead, or an upgrade that fails)."""
    state = read_state(db)
    _refuse_ahead(state)
    kind = state.kind
    if kind == "current":
        return state
    if kind == "empty" or auto_upgrade:
        upgrade(db)
        return read_state(db)
    if kind == "unversioned" and not _model_differences(db):
        stamp(db, state.head)  # what create_all of this code made: nothing to change, only to record
        return read_state(db)
    raise SchemaBehind(state.revision, state.head)


def create_head_revision(db: Database, message: str) -> str:
    """For developers: autogenerates the next revision from the models against `db` (brought to head first).
    Returns the new file's path."""
    upgrade(db)
    next_id = f"{len(known_revisions()) + 1:04d}"  # 0002, 0003 …: the order at a glance
    script = command.revision(alembic_config(db), message=message, autogenerate=True, rev_id=next_id)
    if script is None or isinstance(script, list):
        raise SchemaError("alembic did not write one revision")
    return str(script.path)
