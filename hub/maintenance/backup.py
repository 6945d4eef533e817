"""`python -m hub backup DIR`: one folder that a fresh install can be restored from.

    DIR/manifest.json          versions, schema revision, sizes and sha256 of every file (written last)
    DIR/database.sqlite|.sql   SQLite's online backup, or pg_dump's plain SQL
    DIR/config/<name>          the config file the hub runs with (for reference: secrets stay in ${VARS})
    DIR/files/<root>/…         each folder of files the hub keeps: data_dir (snapshots on disk …) and each
                               feature's (broadcast: uploaded and processed audio), under a stable name
    DIR/influx/                `influxd backup -portable` (InfluxDB 1.x), or nothing and a note why

It runs beside a running hub: SQLite's backup API and pg_dump both take a consistent copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hub.compose import file_dirs, open_database
from hub.core.config import CoreConfig
from hub.maintenance import influx_backup, sql_dump
from hub.maintenance.manifest import (
    DatabasePart,
    InfluxPart,
    Manifest,
    copy_hashed,
    entries,
    hub_version,
    write,
)
from hub.migrations import schema

FILES = "files"
CONFIG = "config"


class BackupRefused(Exception):
    pass


@dataclass(frozen=True)
class Root:
    name: str
    path: Path
    inner: tuple[Path, ...]  # other roots inside this one: copied under their own name, not twice


def roots(config: CoreConfig) -> list[Root]:
    named = [(name, path.resolve()) for name, path in file_dirs(config)]
    seen: dict[Path, str] = {}
    for name, path in named:
        seen.setdefault(path, name)  # two names for one folder: the first keeps it
    unique = [(name, path) for path, name in seen.items()]
    return [
        Root(name, path, tuple(p for _, p in unique if p != path and p.is_relative_to(path)))
        for name, path in unique
    ]


def skipped_files(config: CoreConfig) -> set[Path]:
    """Files under the roots that are not plain files to copy: the SQLite database and its journal."""
    if sql_dump.backend(config.database.url) != "sqlite":
        return set()
    return {p.resolve() for p in sql_dump.sqlite_side_files(sql_dump.sqlite_path(config.database.url))}


def files_of(root: Root, skip: set[Path]) -> list[Path]:
    if not root.path.is_dir():
        return []
    return [
        p
        for p in sorted(root.path.rglob("*"))
        if p.is_file()
        and p.resolve() not in skip
        and not any(p.resolve().is_relative_to(inner) for inner in root.inner)
    ]


def _check_destination(dest: Path, all_roots: list[Root]) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupRefused(f"{dest} đã có và không trống: mỗi lần sao lưu cần một thư mục mới")
    target = dest.resolve()
    for root in all_roots:
        if target.is_relative_to(root.path):
            raise BackupRefused(
                f"{dest} nằm trong thư mục {root.path} ({root.name}) mà chính nó được sao lưu"
            )


def make_backup(
    config: CoreConfig,
    config_path: Path | None,
    dest: Path,
    now: datetime,
    influx_rpc: str | None = None,
    with_influx: bool = True,
) -> Manifest:
    all_roots = roots(config)
    _check_destination(dest, all_roots)
    url = config.database.url
    backend = sql_dump.backend(url)
    if backend == "sqlite" and not sql_dump.sqlite_path(url).is_file():  # opening it would create it
        raise BackupRefused(f"không có tệp cơ sở dữ liệu {sql_dump.sqlite_path(url)}: không có gì để sao lưu")
    db = open_database(url)
    try:
        revision = schema.read_state(db).revision
    finally:
        db.close()
    dest.mkdir(parents=True, exist_ok=True)
    db_file = sql_dump.dump(url, dest)
    known: dict[str, tuple[int, str]] = {}
    config_file = None
    if config_path is not None and config_path.is_file():
        config_file = f"{CONFIG}/{config_path.name}"
        known[config_file] = copy_hashed(config_path, dest / config_file)
    skip = skipped_files(config)
    saved_roots = {}
    for root in all_roots:
        saved_roots[root.name] = f"{FILES}/{root.name}"
        for f in files_of(root, skip):
            rel = f"{FILES}/{root.name}/{f.relative_to(root.path).as_posix()}"
            known[rel] = copy_hashed(f, dest / rel)
    if with_influx:
        influx = influx_backup.backup(config.influx, dest, influx_rpc)
    else:
        influx = InfluxPart(saved=False, note="bỏ qua theo yêu cầu (--no-influx)")
    manifest = Manifest(
        created_at=now,
        hub_version=hub_version(),
        database=DatabasePart(backend=backend, file=db_file, schema_revision=revision),
        config_file=config_file,
        roots=saved_roots,
        influx=influx,
        files=entries(dest, known),
    )
    write(dest, manifest)
    return manifest
