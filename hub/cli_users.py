"""`python -m hub user …` and `python -m hub token …`: people's accounts and API tokens, from the hub machine
(each change in the audit log, like the web's)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from hub.cli_common import EXIT_CONFIG, EXIT_EXISTS, EXIT_OK, CliError, in_db
from hub.core import auth
from hub.core.audit import record_change
from hub.core.config import CoreConfig
from hub.core.db import User, utcnow
from hub.core.labels import local_time

COMMANDS = ("user", "token")


def add_user_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
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


def add_token_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    token = sub.add_parser("token", parents=[common], help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    create = token.add_parser("create", parents=[common], help="create a token (printed once)")
    create.add_argument("--user", required=True)
    create.add_argument("--name", required=True, help="what the token is for")
    token.add_parser("list", parents=[common], help="list tokens (never the tokens themselves)")
    revoke = token.add_parser("revoke", parents=[common], help="revoke a token by id")
    revoke.add_argument("id", type=int)


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
    exists = in_db(config, lambda s: auth.get_user(s, username) is not None)
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
        in_db(config, add)
    except auth.AuthError as exc:  # created by someone else in the meantime
        raise CliError(str(exc), EXIT_EXISTS) from None
    print(f"Đã tạo người dùng {username!r} (vai trò {args.role})")
    return EXIT_OK


def _user_passwd(args: argparse.Namespace, config: CoreConfig) -> int:
    username = args.username
    if not in_db(config, lambda s: auth.get_user(s, username) is not None):
        raise CliError(f"Không có người dùng {username!r}")
    password_hash = auth.hash_password(_read_password(args, username))

    def passwd(s: Session) -> None:
        auth.set_password(s, username, password_hash)
        record_change(
            s, actor=CLI_ACTOR, action="user.password_reset", target=f"user:{username}", now=utcnow()
        )

    in_db(config, passwd)
    print(f"Đã đổi mật khẩu của {username!r}; các phiên đăng nhập cũ đã bị đóng")
    return EXIT_OK


def _user_list(config: CoreConfig) -> int:
    from sqlalchemy import select

    tz = ZoneInfo(config.timezone)
    now = utcnow()
    rows = in_db(config, lambda s: list(s.scalars(select(User).order_by(User.username))))
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
        token_id, token = in_db(config, create)
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
    for r in in_db(config, rows):
        print(f"{r[0]:>4}  {r[1]:<15} {r[2]:<16} {r[3]:<20} {r[4]:<20} {r[5]:<20} {r[6]}")
    return EXIT_OK


def _token_revoke(args: argparse.Namespace, config: CoreConfig) -> int:
    def revoke(s: Session) -> bool:
        now = utcnow()
        found = auth.revoke_token(s, args.id, now)
        if found:
            record_change(s, actor=CLI_ACTOR, action="token.revoke", target=f"token:{args.id}", now=now)
        return found

    if not in_db(config, revoke):
        raise CliError(f"Không có token #{args.id}")
    print(f"Đã thu hồi token #{args.id}")
    return EXIT_OK


def dispatch(args: argparse.Namespace, command: str, config: CoreConfig) -> int:
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
