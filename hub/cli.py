"""Command line of the hub: run it, manage users and API tokens, check a config file; the database's schema,
backups and restores are in hub/maintenance/commands.py; the CA, the broker's account file and device accounts
are in hub/cli_broker.py.

Exit codes: 0 done; 1 the operation failed (unknown user, weak password…); 2 bad config or usage;
3 `user add` for a user that exists (without --if-missing); 4 the database's schema is behind this code
(or ahead of it): `db upgrade`, or `database.auto_upgrade`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from contract.configfile import ConfigError
from hub import cli_areas, cli_broker
from hub.compose import load_config, open_database
from hub.core import auth
from hub.core.audit import record_change
from hub.core.config import CoreConfig, SecretFileError, partition_map
from hub.core.db import Database, User, utcnow
from hub.core.labels import local_time
from hub.maintenance.commands import COMMANDS, EXIT_SCHEMA, CommandFailed, add_commands, run_command
from hub.migrations import schema

T = TypeVar("T")
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_EXISTS = 0, 1, 2, 3
DEFAULT_CONFIG = "config/hub.yaml"


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    # --config is accepted before or after the command; SUPPRESS keeps a sub-level default from hiding it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="YAML config (env HUB_CONFIG, else config/hub.yaml)"
    )
    p = argparse.ArgumentParser(
        prog="python -m hub", description="Hub: ingest, web UI, JSON API", parents=[common]
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser("run", parents=[common], help="run the hub and its web app (default)")
    run.add_argument(
        "--role",
        choices=["all", "ingest", "web"],
        default="all",
        help="several hubs (cluster.enabled): ingest = partitions and leader work, no web; "
        "web = pages, API and live events only; all = both (default)",
    )
    sub.add_parser("check-config", parents=[common], help="validate the config file and exit")

    user = sub.add_parser("user", parents=[common], help="manage users").add_subparsers(
        dest="action", required=True
    )
    add = user.add_parser("add", parents=[common], help="create a user")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=auth.ROLES)
    add.add_argument("--district", help="district slug (scope)")
    add.add_argument(
        "--province-wide",
        action="store_true",
        help="no district: the whole province (the explicit choice a non-admin without --district needs)",
    )
    add.add_argument("--commune", help="commune slug within --district")
    add.add_argument("--name", help='full name, e.g. "Nguyễn Văn A"')
    pw = add.add_mutually_exclusive_group()
    pw.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first stdin line"
    )
    pw.add_argument(
        "--password", help="password on the command line (visible in ps; prefer --password-stdin)"
    )
    add.add_argument("--if-missing", action="store_true", help="exit 0 without change when the user exists")
    passwd = user.add_parser("passwd", parents=[common], help="set a user's password (ends their sessions)")
    passwd.add_argument("username")
    pw2 = passwd.add_mutually_exclusive_group()
    pw2.add_argument("--password-stdin", action="store_true")
    pw2.add_argument("--password")
    user.add_parser("list", parents=[common], help="list users")

    backfill = sub.add_parser(
        "influx-backfill",
        parents=[common],
        help="recompute InfluxDB's 5-minute and 1-hour series for a past range (points that came in late)",
    )
    backfill.add_argument("--hours", type=float, default=24.0, help="how far back from now (default 24)")

    token = sub.add_parser("token", parents=[common], help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", parents=[common], help="create a token (printed once)")
    create.add_argument("--user", required=True)
    create.add_argument("--name", required=True, help="what the token is for")
    token.add_parser("list", parents=[common], help="list tokens (never the tokens themselves)")
    revoke = token.add_parser("revoke", parents=[common], help="revoke a token by id")
    revoke.add_argument("id", type=int)
    add_commands(sub, common)
    cli_broker.add_parsers(sub, common)
    cli_areas.add_parsers(sub, common)
    return p


def _config(args: argparse.Namespace) -> tuple[str, CoreConfig]:
    path = getattr(args, "config", None) or os.environ.get("HUB_CONFIG") or DEFAULT_CONFIG
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(
            f"invalid config {path}:\n  - timezone: unknown time zone {config.timezone!r}", EXIT_CONFIG
        ) from None
    try:
        make_url(config.database.url)
    except Exception:
        raise CliError(f"invalid config {path}:\n  - database.url: not a database URL", EXIT_CONFIG) from None
    return path, config


def _open_db(config: CoreConfig) -> Database:
    url = make_url(config.database.url)
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
    db = open_database(config.database.url)
    try:
        schema.prepare(db, config.database.auto_upgrade)  # the same check as a start: never on a stale schema
    except BaseException:
        db.close()
        raise
    return db


def _in_db(config: CoreConfig, fn: Callable[[Session], T]) -> T:
    db = _open_db(config)
    try:
        with db.session() as s, s.begin():
            return fn(s)
    finally:
        db.close()


def _read_password(args: argparse.Namespace, username: str) -> str:
    if args.password is not None:
        password = str(args.password)
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Mật khẩu: ")
        if getpass.getpass("Nhập lại mật khẩu: ") != password:
            raise CliError("Hai lần nhập mật khẩu không khớp")
    else:
        raise CliError("Cần mật khẩu: dùng --password-stdin (hoặc --password)", EXIT_CONFIG)
    try:
        auth.check_password_rules(password, username)
    except auth.AuthError as exc:
        raise CliError(str(exc)) from None
    return password


CLI_ACTOR = "cli"  # changes made on the hub machine itself, in the audit log like the web's


def _user_add(args: argparse.Namespace, config: CoreConfig) -> int:
    username = args.username
    try:
        auth.validate_user_fields(username, args.role, args.district, args.commune)
        auth.check_province_wide(args.role, args.district, args.province_wide)
    except auth.AuthError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    exists = _in_db(config, lambda s: auth.get_user(s, username) is not None)
    if exists:
        if args.if_missing:
            print(f"Người dùng {username!r} đã có; không thay đổi gì")
            return EXIT_OK
        raise CliError(f"Người dùng {username!r} đã tồn tại", EXIT_EXISTS)
    password_hash = auth.hash_password(_read_password(args, username))

    def add(s: Session) -> None:
        now = utcnow()
        u = auth.add_user(
            s,
            username,
            password_hash,
            args.role,
            district=args.district,
            commune=args.commune,
            full_name=args.name,
            now=now,
        )
        after = {"username": u.username, "full_name": u.full_name, "role": u.role, "district": u.district,
                 "commune": u.commune, "disabled": False}  # fmt: skip
        record_change(
            s, actor=CLI_ACTOR, action="user.create", target=f"user:{username}", now=now, after=after
        )

    try:
        _in_db(config, add)
    except auth.AuthError as exc:  # created by someone else in the meantime
        raise CliError(str(exc), EXIT_EXISTS) from None
    print(f"Đã tạo người dùng {username!r} (vai trò {args.role})")
    return EXIT_OK


def _user_passwd(args: argparse.Namespace, config: CoreConfig) -> int:
    username = args.username
    if not _in_db(config, lambda s: auth.get_user(s, username) is not None):
        raise CliError(f"Không có người dùng {username!r}")
    password_hash = auth.hash_password(_read_password(args, username))

    def passwd(s: Session) -> None:
        auth.set_password(s, username, password_hash)
        record_change(
            s, actor=CLI_ACTOR, action="user.password_reset", target=f"user:{username}", now=utcnow()
        )

    _in_db(config, passwd)
    print(f"Đã đổi mật khẩu của {username!r}; các phiên đăng nhập cũ đã bị đóng")
    return EXIT_OK


def _user_list(config: CoreConfig) -> int:
    from sqlalchemy import select

    tz = ZoneInfo(config.timezone)
    now = utcnow()
    rows = _in_db(config, lambda s: list(s.scalars(select(User).order_by(User.username))))
    print(f"{'ID':>4}  {'TÊN ĐĂNG NHẬP':<20} {'VAI TRÒ':<11} {'PHẠM VI':<24} {'TRẠNG THÁI':<28} HỌ TÊN")
    for u in rows:
        scope = "/".join(x for x in (u.district, u.commune) if x) or "toàn tỉnh"
        state = "vô hiệu" if u.disabled else "hoạt động"
        if u.locked_until and u.locked_until > now:
            state = f"khoá đến {local_time(u.locked_until, tz)}"
        print(f"{u.id:>4}  {u.username:<20} {u.role:<11} {scope:<24} {state:<28} {u.full_name or ''}")
    return EXIT_OK


def _token_create(args: argparse.Namespace, config: CoreConfig) -> int:
    def create(s: Session) -> tuple[int, str]:
        now = utcnow()
        row, token = auth.create_token(s, args.user, args.name, now)
        record_change(
            s, actor=CLI_ACTOR, action="token.create", target=f"token:{row.id}", now=now,
            after={"name": row.name, "prefix": row.prefix, "user": args.user},
        )  # fmt: skip
        return row.id, token

    try:
        token_id, token = _in_db(config, create)
    except auth.AuthError as exc:
        raise CliError(str(exc)) from None
    print(token)
    print(f"(token #{token_id} cho {args.user!r}; chỉ hiện một lần, hãy lưu lại ngay)", file=sys.stderr)
    return EXIT_OK


def _token_list(config: CoreConfig) -> int:
    tz = ZoneInfo(config.timezone)

    def rows(s: Session) -> list[tuple[int, str, str, str, str, str, str]]:
        return [
            (
                t.id,
                t.prefix + "…",
                user,
                t.name,
                local_time(t.created_at, tz),
                local_time(t.last_used, tz) if t.last_used else "chưa dùng",
                f"thu hồi {local_time(t.revoked_at, tz)}" if t.revoked_at else "còn hiệu lực",
            )
            for t, user in auth.list_tokens(s)
        ]

    print(
        f"{'ID':>4}  {'TIỀN TỐ':<15} {'NGƯỜI DÙNG':<16} {'TÊN':<20} {'TẠO LÚC':<20} {'DÙNG GẦN NHẤT':<20} TRẠNG THÁI"
    )
    for r in _in_db(config, rows):
        print(f"{r[0]:>4}  {r[1]:<15} {r[2]:<16} {r[3]:<20} {r[4]:<20} {r[5]:<20} {r[6]}")
    return EXIT_OK


def _token_revoke(args: argparse.Namespace, config: CoreConfig) -> int:
    def revoke(s: Session) -> bool:
        now = utcnow()
        found = auth.revoke_token(s, args.id, now)
        if found:
            record_change(s, actor=CLI_ACTOR, action="token.revoke", target=f"token:{args.id}", now=now)
        return found

    if not _in_db(config, revoke):
        raise CliError(f"Không có token #{args.id}")
    print(f"Đã thu hồi token #{args.id}")
    return EXIT_OK


async def _influx_backfill(args: argparse.Namespace, config: CoreConfig) -> int:
    """The downsampling over [now - hours, now): after an edge box replayed a long outage (docs/INFLUX.md)."""
    from datetime import UTC, datetime, timedelta

    from hub.core.influx import make_retention
    from hub.core.influx_retention import InfluxSchemaError
    from hub.core.influx_send import InfluxUnavailable

    if not config.influx.enabled or not config.influx.retention.manage:
        raise CliError("influx.retention.manage is off: the hub does not downsample", EXIT_CONFIG)
    # hub_stats: the fields InfluxDB holds (1.x; this command does not know the running hub's gauges)
    layout = make_retention(config.influx, dict)
    assert layout is not None
    end = datetime.now(UTC)
    try:
        n = await layout.backfill(end - timedelta(hours=args.hours), end)
    except (InfluxUnavailable, InfluxSchemaError) as exc:
        raise CliError(f"InfluxDB: {exc}") from None
    print(f"Đã tính lại chuỗi 5 phút và 1 giờ cho {args.hours:g} giờ qua ({n})")
    return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command or "run"
    path, config = _config(args)
    if command == "check-config":
        print(
            f"Cấu hình hợp lệ: {path} (web {config.http.host}:{config.http.port}, MQTT {config.mqtt.host}:{config.mqtt.port})"
        )
        print(_cluster_summary(config))
        return EXIT_OK
    if command in COMMANDS:
        return run_command(args, config, Path(path))
    try:
        return _dispatch_on_db(args, command, config)
    except schema.SchemaError as exc:
        raise CliError(schema.for_config(exc, path), EXIT_SCHEMA) from None


def _dispatch_on_db(args: argparse.Namespace, command: str, config: CoreConfig) -> int:
    if command == "run":
        from hub.server import serve

        role = getattr(args, "role", "all")
        if role != "all" and not config.cluster.enabled:
            raise CliError(f"--role {role} cần cluster.enabled (nhiều hub trên PostgreSQL)", EXIT_CONFIG)
        try:
            return asyncio.run(serve(config, role=role))
        except schema.SchemaError:
            raise
        except SecretFileError as exc:  # the MQTT password or an InfluxDB token file missing or empty
            raise CliError(f"hub không khởi động được: {exc}", EXIT_CONFIG) from None
        except (OSError, RuntimeError, SQLAlchemyError) as exc:
            logging.getLogger("hub").exception("hub stopped on an error")
            raise CliError(f"hub dừng vì lỗi: {exc}") from None
    if command in cli_broker.COMMANDS:
        try:
            return cli_broker.dispatch(args, config, _open_db)
        except cli_broker.BrokerCliError as exc:
            raise CliError(str(exc), exc.code) from None
    if command in cli_areas.COMMANDS:
        try:
            return cli_areas.dispatch(args, config, _open_db)
        except cli_areas.AreasCliError as exc:
            raise CliError(str(exc), exc.code) from None
    if command == "influx-backfill":
        return asyncio.run(_influx_backfill(args, config))
    if command == "user":
        if args.action == "add":
            return _user_add(args, config)
        if args.action == "passwd":
            return _user_passwd(args, config)
        return _user_list(config)
    if args.action == "create":
        return _token_create(args, config)
    if args.action == "list":
        return _token_list(config)
    return _token_revoke(args, config)


def _cluster_summary(config: CoreConfig) -> str:
    if not config.cluster.enabled:
        return "Một hub (cluster.enabled: false); nhiều hub cần PostgreSQL và cluster.enabled: true"
    parts = partition_map(config)
    cl = config.cluster
    return (
        f"Nhiều hub: hub_id {cl.hub_id}, {len(parts)} phân vùng ({', '.join(parts)}), "
        f"lease {cl.lease_ttl_s:g} s (gia hạn mỗi {cl.lease_renew_s:g} s)"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _dispatch(args)
    except (CliError, CommandFailed) as exc:
        print(f"lỗi: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
