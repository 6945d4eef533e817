"""`python -m hub ca …`, `python -m hub broker init` and `python -m hub device …`: the deployment's CA, the
broker's first account file, and broker accounts from the device registry.

Secrets never go on a command line and never to a log: a password is written to a 0600 file (`--out`,
`--password-file`) or, without one, printed once on stdout for the operator to redirect.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.core import ca, qr
from hub.core.account_models import ACTIVE, BrokerAccountRow
from hub.core.broker_accounts import BrokerAccountsError
from hub.core.broker_acl import AccountError, DeviceRef, account_for
from hub.core.config import CoreConfig
from hub.core.db import Database, utcnow
from hub.core.provisioning import (
    Provisioned,
    Provisioner,
    RegistryError,
    admin_password_file,
    broker_accounts,
    list_accounts,
    new_password,
    pending_devices,
    secrets_dir,
)

CLI_ACTOR = "cli"
COMMANDS = ("ca", "broker", "device")


class BrokerCliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    cap = sub.add_parser("ca", parents=[common], help="the deployment's certificate authority")
    ca_sub = cap.add_subparsers(dest="action", required=True)
    init = ca_sub.add_parser("init", parents=[common], help="create the CA under {data_dir}/ca (once)")
    init.add_argument("--name", default="commune-ops CA", help="the CA's common name")
    srv = ca_sub.add_parser("issue-server", parents=[common], help="a server certificate (broker, web proxy)")
    srv.add_argument("--name", action="append", required=True, help="host name or IP clients use (repeat)")
    srv.add_argument("--file-name", help="issued/NAME.crt|.key (default: the first --name)")
    cli = ca_sub.add_parser("issue-client", parents=[common], help="a client certificate (mutual TLS)")
    cli.add_argument("--name", required=True, help="common name: the device's account, e.g. edge.d.c.id")
    cli.add_argument("--file-name")

    broker = sub.add_parser("broker", parents=[common], help="the broker's account plugin")
    b_sub = broker.add_subparsers(dest="action", required=True)
    binit = b_sub.add_parser(
        "init", parents=[common], help="write the dynamic-security file: admin account and this hub's account"
    )
    binit.add_argument("--dynsec-file", type=Path, help="default: broker.dynsec_file")
    binit.add_argument("--hub", default="main", help="this hub process's account name (hub.NAME)")
    binit.add_argument("--password-file", type=Path, help="where the hub's MQTT password goes (0600)")
    binit.add_argument(
        "--force", action="store_true", help="replace an existing file (every account is lost)"
    )

    dev = sub.add_parser("device", parents=[common], help="broker accounts of devices and hub processes")
    d_sub = dev.add_subparsers(dest="action", required=True)
    for action, what in (
        ("add", "a new account and its provisioning file"),
        ("rotate", "a new password (the old one stops at once) and a new file"),
        ("provision", "add, or replace whatever account the device had, and write its file"),
        ("revoke", "delete the account: the device is disconnected at once"),
    ):
        p = d_sub.add_parser(action, parents=[common], help=what)
        p.add_argument("kind", choices=["edge", "speaker", "hub"])
        p.add_argument("device", help="district/commune/id (edge, speaker) or NAME (hub)")
        if action == "revoke":
            continue
        p.add_argument("--out", type=Path, help="write the provisioning file here (0600); default stdout")
        p.add_argument("--qr", type=Path, help="also write its QR code (.png or .svg)")
        p.add_argument("--password-file", type=Path, help="hub: write only the password here (0600)")
        if action != "rotate":
            p.add_argument("--name", help="display name (speakers)")
            p.add_argument(
                "--communes", default="", help="edge: more communes whose cameras it reports (a,b)"
            )
    lst = d_sub.add_parser("list", parents=[common], help="accounts, or the devices still without one")
    lst.add_argument("--pending", action="store_true", help="registry devices the broker refuses")


def dispatch(args: argparse.Namespace, config: CoreConfig, open_db: Callable[[CoreConfig], Database]) -> int:
    try:
        if args.command == "ca":
            return _ca(args, config)
        if args.command == "broker":
            return _broker_init(args, config, open_db)
        return _device(args, config, open_db)
    except (ca.CaError, AccountError, RegistryError, BrokerAccountsError, ValueError) as exc:
        raise BrokerCliError(str(exc)) from None


def _ca(args: argparse.Namespace, config: CoreConfig) -> int:
    root = ca.ca_dir(config.data_dir)
    now = utcnow()
    if args.action == "init":
        made = ca.init_ca(root, now, args.name)
        print(f"{'Đã tạo' if made else 'Đã có sẵn'} CA: {root / 'ca.crt'} (khoá {root / 'ca.key'}, 0600)")
    elif args.action == "issue-server":
        issued = ca.issue_server(root, args.name, now, args.file_name)
        print(f"Chứng chỉ máy chủ {', '.join(args.name)}: {issued.cert} (khoá {issued.key})")
    else:
        issued = ca.issue_client(root, args.name, now, args.file_name)
        print(f"Chứng chỉ máy khách {args.name}: {issued.cert} (khoá {issued.key})")
    return 0


def _write_secret(path: Path, text: str) -> None:
    ca.write_private(path, text.encode())


def _broker_init(
    args: argparse.Namespace, config: CoreConfig, open_db: Callable[[CoreConfig], Database]
) -> int:
    from hub.core.dynsec import initial_config, write_initial_config

    target = args.dynsec_file or config.broker.dynsec_file
    if target is None:
        raise BrokerCliError("where should the plugin's file go? --dynsec-file or broker.dynsec_file", 2)
    if target.exists() and not args.force:
        print(f"{target} đã có; không thay đổi gì (--force để tạo lại, mọi tài khoản sẽ mất)")
        return 0
    admin_file = admin_password_file(config)
    admin_password = new_password()
    _write_secret(admin_file, admin_password + "\n")
    hub = DeviceRef("hub", args.hub)
    hub_password = new_password()
    hub_file = args.password_file or secrets_dir(config) / f"{hub.username}.password"
    _write_secret(hub_file, hub_password + "\n")
    doc = initial_config(config.broker.admin_username, admin_password, [(account_for(hub), hub_password)])
    write_initial_config(target, doc)
    now = utcnow()

    def record(db: Database) -> None:
        with db.session() as s, s.begin():
            row = s.get(BrokerAccountRow, hub.username) or BrokerAccountRow(
                username=hub.username, kind="hub", device_key=hub.key, created_at=now
            )
            row.state, row.password_set_at, row.revoked_at, row.issued_by, row.communes = (
                ACTIVE, now, None, CLI_ACTOR, []
            )  # fmt: skip
            s.merge(row)

    db = open_db(config)
    try:
        record(db)
    finally:
        db.close()
    print(f"Đã ghi {target}: tài khoản quản trị {config.broker.admin_username} (mật khẩu: {admin_file})")
    print(f"Tài khoản của hub: {hub.username} (client id {hub.client_id}; mật khẩu: {hub_file})")
    return 0


def _output(args: argparse.Namespace, done: Provisioned) -> None:
    if getattr(args, "password_file", None) is not None:
        _write_secret(args.password_file, done.password + "\n")
        print(f"Mật khẩu của {done.ref.username}: {args.password_file}", file=sys.stderr)
    if args.out is not None:
        _write_secret(args.out, done.text)
        print(f"Tệp cấp phát của {done.ref.username}: {args.out} (0600; chỉ hiện một lần)", file=sys.stderr)
    elif getattr(args, "password_file", None) is None:
        sys.stdout.write(done.text)
    if args.qr is not None:
        qr.save(done.text, str(args.qr))
        print(f"Mã QR: {args.qr}", file=sys.stderr)


def _device(args: argparse.Namespace, config: CoreConfig, open_db: Callable[[CoreConfig], Database]) -> int:
    db = open_db(config)
    try:
        if args.action == "list":
            return _list(args, db)
        ref = DeviceRef.parse(args.kind, args.device)
        accounts = broker_accounts(config)
        if accounts is None:
            raise BrokerCliError("broker.accounts is none: this hub does not manage the broker's accounts", 2)
        prov = Provisioner(config, db, accounts)
        if args.action == "revoke":
            asyncio.run(prov.revoke(ref, CLI_ACTOR))
            print(f"Đã thu hồi tài khoản {ref.username}; thiết bị bị ngắt kết nối")
            return 0
        if args.action == "rotate":
            done = asyncio.run(prov.rotate(ref, CLI_ACTOR))
        else:
            communes = [c for c in args.communes.split(",") if c]
            method = prov.add if args.action == "add" else prov.provision
            done = asyncio.run(method(ref, CLI_ACTOR, communes, args.name))
        _output(args, done)
        return 0
    finally:
        db.close()


def _list(args: argparse.Namespace, db: Database) -> int:
    with db.session() as s:
        if args.pending:
            rows = pending_devices(s)
            print(f"{'LOẠI':<8} THIẾT BỊ (chưa có tài khoản: broker từ chối)")
            for kind, key in rows:
                print(f"{kind:<8} {key}")
            return 0
        accounts = list_accounts(s)
    print(f"{'LOẠI':<8} {'THIẾT BỊ':<40} {'TRẠNG THÁI':<10} {'ĐẶT MẬT KHẨU (UTC)':<20} TÀI KHOẢN")
    for r in accounts:
        when = r.password_set_at.strftime("%Y-%m-%d %H:%M")
        print(f"{r.kind:<8} {r.device_key:<40} {r.state:<10} {when:<20} {r.username}")
    return 0
