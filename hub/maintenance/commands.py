"""The hub's storage commands: `db upgrade|current|history|revision`, `backup DIR`, `restore DIR`.

Exit codes (with hub/cli.py's): 0 done; 1 failed; 4 the database's schema is not this code's (`db current`
on a database that is behind, empty, from before migrations or ahead; a refused start).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hub.compose import open_database
from hub.core.config import CoreConfig
from hub.maintenance import influx_backup, sql_dump
from hub.maintenance.backup import BackupRefused, make_backup
from hub.maintenance.manifest import BackupDamaged
from hub.maintenance.restore import RestoreRefused, restore_backup
from hub.migrations import schema

COMMANDS = ("db", "backup", "restore")
EXIT_OK, EXIT_FAILED, EXIT_SCHEMA = 0, 1, 4


class CommandFailed(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    db = sub.add_parser("db", parents=[common], help="the database's schema (migrations)").add_subparsers(
        dest="action", required=True
    )
    db.add_parser("upgrade", parents=[common], help="bring the database to this release's schema")
    db.add_parser("current", parents=[common], help="the database's schema revision (exit 4 unless current)")
    db.add_parser("history", parents=[common], help="the revisions this release knows")
    rev = db.add_parser(
        "revision",
        parents=[common],
        help="developers: write the next revision from the models (autogenerate)",
    )
    rev.add_argument("-m", "--message", required=True, help="what the revision changes")

    influx = argparse.ArgumentParser(add_help=False)
    influx.add_argument(
        "--influx-rpc",
        metavar="HOST:PORT",
        help="influxd's RPC address (default: host of influx.url, port 8088)",
    )
    influx.add_argument("--no-influx", action="store_true", help="leave the metrics out")
    backup = sub.add_parser("backup", parents=[common, influx], help="write a backup set into a new folder")
    backup.add_argument("dir", type=Path)
    restore = sub.add_parser("restore", parents=[common, influx], help="restore a backup set (hub stopped)")
    restore.add_argument("dir", type=Path)
    restore.add_argument("--force", action="store_true", help="replace the data already there")


def run_command(args: argparse.Namespace, config: CoreConfig, config_path: Path) -> int:
    try:
        if args.command == "db":
            return _db(args, config)
        if args.command == "backup":
            return _backup(args, config, config_path)
        return _restore(args, config)
    except schema.SchemaError as exc:
        raise CommandFailed(schema.for_config(exc, str(config_path)), EXIT_SCHEMA) from None
    except (
        BackupRefused,
        BackupDamaged,
        RestoreRefused,
        sql_dump.DumpFailed,
        influx_backup.InfluxFailed,
    ) as exc:
        raise CommandFailed(str(exc)) from None


def _db(args: argparse.Namespace, config: CoreConfig) -> int:
    if args.action == "revision":
        with tempfile.TemporaryDirectory(prefix="hub-revision-") as tmp:
            db = open_database(f"sqlite:///{tmp}/head.db")
            try:
                print(
                    f"Đã viết {schema.create_head_revision(db, args.message)}: hãy đọc lại trước khi commit"
                )
            finally:
                db.close()
        return EXIT_OK
    if sql_dump.backend(config.database.url) == "sqlite":
        sql_dump.sqlite_path(config.database.url).parent.mkdir(parents=True, exist_ok=True)
    db = open_database(config.database.url)
    try:
        if args.action == "upgrade":
            before, head = schema.upgrade(db)
            print(
                f"Lược đồ đã ở phiên bản mới nhất {head}"
                if before == head
                else f"Lược đồ: {before or 'trống hoặc trước migration'} → {head}"
            )
            return EXIT_OK
        state = schema.read_state(db)
        if args.action == "current":
            return _current(state)
        current = state.revision
        for s in schema.scripts().walk_revisions():
            marks = [m for m, on in (("hiện tại", s.revision == current), ("mới nhất", s.is_head)) if on]
            print(
                f"{s.revision}  {s.doc.splitlines()[0] if s.doc else ''}{'  ← ' + ', '.join(marks) if marks else ''}"
            )
        return EXIT_OK
    finally:
        db.close()


def _current(state: schema.SchemaState) -> int:
    kind = state.kind
    if kind == "current":
        print(f"Lược đồ ở phiên bản {state.revision}, mới nhất")
        return EXIT_OK
    if kind == "behind":
        print(f"Lược đồ ở phiên bản {state.revision}; mã này cần {state.head}: chạy `db upgrade`")
    elif kind == "empty":
        print(f"Cơ sở dữ liệu trống: `db upgrade` (hoặc lần chạy hub đầu tiên) tạo lược đồ {state.head}")
    elif kind == "unversioned":
        print(
            f"Có {len(state.hub_tables)} bảng nhưng chưa có phiên bản lược đồ (bản phát hành trước khi có migration): `db upgrade` đánh dấu và nâng cấp lên {state.head}"
        )
    else:
        print(f"Lược đồ ở phiên bản {state.revision}, mã này không biết (mới nhất nó biết: {state.head})")
    return EXIT_SCHEMA


def _backup(args: argparse.Namespace, config: CoreConfig, config_path: Path) -> int:
    m = make_backup(
        config,
        config_path,
        args.dir,
        datetime.now(UTC),
        influx_rpc=args.influx_rpc,
        with_influx=not args.no_influx,
    )
    print(
        f"Đã sao lưu vào {args.dir}: {len(m.files)} tệp, {m.total_bytes} byte, lược đồ {m.database.schema_revision or 'trước migration'}"
    )
    print(f"InfluxDB: {m.influx.note}")
    return EXIT_OK


def _restore(args: argparse.Namespace, config: CoreConfig) -> int:
    for line in restore_backup(
        config, args.dir, force=args.force, influx_rpc=args.influx_rpc, with_influx=not args.no_influx
    ):
        print(line)
    print(f"Đã khôi phục từ {args.dir}. Bản sao cấu hình cũ nằm trong {args.dir}/config/ để so sánh.")
    return EXIT_OK
