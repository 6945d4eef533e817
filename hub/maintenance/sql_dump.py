"""The SQL database in and out of a backup set: SQLite through its online backup API (a consistent copy while
the hub writes), PostgreSQL through pg_dump (plain SQL, no owners or grants, so it loads under another role)
and psql. The password goes to libpq through the environment, never on a command line."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import MetaData, inspect, select
from sqlalchemy.engine import URL, make_url

from hub.core.db import Database

SQLITE_FILE = "database.sqlite"
POSTGRES_FILE = "database.sql"
PG_TIMEOUT_S = 3600.0


class DumpFailed(Exception):
    pass


def backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise DumpFailed(f"cơ sở dữ liệu {name} không được hỗ trợ (chỉ SQLite và PostgreSQL)")
    return name


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise DumpFailed("cơ sở dữ liệu SQLite trong bộ nhớ: không có gì để sao lưu hay khôi phục")
    return Path(database)


def sqlite_side_files(path: Path) -> list[Path]:
    """The database file and what SQLite keeps beside it (never copied as plain files)."""
    return [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))]


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump/psql: host, port, user and database as arguments, the password in
    PGPASSWORD."""
    u: URL = make_url(url)
    args = [f"--dbname={u.database or 'postgres'}"]
    if u.host:
        args.append(f"--host={u.host}")
    if u.port:
        args.append(f"--port={u.port}")
    if u.username:
        args.append(f"--username={u.username}")
    env = {**os.environ}
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    return args, env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    binary = shutil.which(cmd[0])
    if binary is None:
        raise DumpFailed(f"không tìm thấy {cmd[0]} (gói Debian postgresql-client)")
    try:
        done = subprocess.run(
            [binary, *cmd[1:]], env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise DumpFailed(f"{what}: quá {PG_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise DumpFailed(f"{what} thất bại (mã {done.returncode}): {done.stderr.strip()[-2000:]}")


def dump(url: str, folder: Path) -> str:
    """Writes the database into `folder`; returns the file's name."""
    if backend(url) == "sqlite":
        src_path = sqlite_path(url)
        if not src_path.is_file():
            raise DumpFailed(f"không có tệp cơ sở dữ liệu {src_path}")
        dst_path = folder / SQLITE_FILE
        src, dst = sqlite3.connect(src_path), sqlite3.connect(dst_path)
        try:
            src.backup(dst)
            # One self-contained file: not WAL, which would leave pages beside it.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
            src.close()
        return SQLITE_FILE
    args, env = _libpq(url)
    out = folder / POSTGRES_FILE
    _run(
        ["pg_dump", *args, "--format=plain", "--no-owner", "--no-privileges", f"--file={out}"], env, "pg_dump"
    )
    return POSTGRES_FILE


def rows_present(db: Database) -> list[str]:
    """The tables of this database (the hub's or not) that hold at least one row. The schema revision is no
    data: a hub that started once on the new install wrote only that."""
    found = []
    with db.engine.connect() as conn:
        meta = MetaData()
        meta.reflect(conn)
        for table in meta.sorted_tables:
            if table.name == "alembic_version":
                continue
            if conn.execute(select(1).select_from(table).limit(1)).first() is not None:
                found.append(table.name)
    return found


def _drop_everything(db: Database) -> None:
    with db.engine.begin() as conn:
        meta = MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)
        leftover = inspect(conn).get_table_names()
    if leftover:
        raise DumpFailed(f"không xoá được các bảng {', '.join(leftover)}")


def load(db: Database, folder: Path, file: str) -> None:
    """Replaces the database's content with the backup's. The caller has checked that it may."""
    if backend(db.url) == "sqlite":
        target = sqlite_path(db.url)
        target.parent.mkdir(parents=True, exist_ok=True)
        db.engine.dispose()  # no pooled connection may keep old pages
        src, dst = sqlite3.connect(folder / file), sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")  # as the hub runs it
        finally:
            dst.close()
            src.close()
        return
    _drop_everything(db)
    db.engine.dispose()
    args, env = _libpq(db.url)
    cmd = ["psql", *args, "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1"]
    _run([*cmd, f"--file={folder / file}"], env, "psql")
