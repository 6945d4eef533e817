"""Mosquitto's dynamic-security plugin as the hub's `BrokerAccounts` backend, and the plugin's first file.

Account changes are JSON commands published by the hub's administrative account on
`$CONTROL/dynamic-security/v1`; the plugin answers on `…/response` with the same `correlationData` and an
`error` for a refused command. Every call opens its own short connection (account changes are rare, and a
CLI command and the running hub may both make them), waits for every answer and raises on any error.

The plugin's file (`initial_config`) holds only password hashes (PBKDF2-SHA512, as the plugin computes them),
never a password. It is written once, before the broker first starts (`python -m hub broker init`); from then
on the broker keeps it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.core.broker_accounts import BrokerAccountsError
from hub.core.broker_acl import CONTROL_TOPIC, BrokerAccount, admin_acls

ITERATIONS = 101  # what mosquitto_ctrl writes; the plugin reads the count from the file
TIMEOUT_S = 10.0
ADMIN_ROLE = "hub-admin"


def password_hash(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> dict[str, Any]:
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": iterations,
    }


def _role(name: str, acls: list[dict[str, object]]) -> dict[str, Any]:
    return {"rolename": name, "acls": acls}


def _client(account: BrokerAccount, password: str) -> dict[str, Any]:
    c: dict[str, Any] = {
        "username": account.username,
        "textName": account.text_name,
        "roles": [{"rolename": account.role}],
        **password_hash(password),
    }
    if account.client_id:
        c["clientid"] = account.client_id
    return c


def initial_config(
    admin_username: str, admin_password: str, accounts: list[tuple[BrokerAccount, str]]
) -> dict[str, Any]:
    """The plugin's file: deny by default, the administrative account, and `accounts` with their roles."""
    roles = [_role(ADMIN_ROLE, [a.as_dict() for a in admin_acls()])]
    clients = [
        {"username": admin_username, "textName": "hub administration", "roles": [{"rolename": ADMIN_ROLE}],
         **password_hash(admin_password)},
    ]  # fmt: skip
    for account, password in accounts:
        if not any(r["rolename"] == account.role for r in roles):
            roles.append(_role(account.role, [a.as_dict() for a in account.acls]))
        clients.append(_client(account, password))
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }


def write_initial_config(path: Path, config: dict[str, Any]) -> None:
    """Write the plugin's file for a broker that has not started yet (0600: it holds password hashes)."""
    from hub.core.ca import write_private

    write_private(path, json.dumps(config, indent=2).encode())


@dataclass(frozen=True)
class AdminLogin:
    host: str
    port: int
    username: str
    password: str
    tls: ssl.SSLContext | None = None


class DynsecAccounts:
    """`BrokerAccounts` over the dynamic-security plugin's control topic."""

    def __init__(self, login: AdminLogin, timeout_s: float = TIMEOUT_S) -> None:
        self.login = login
        self.timeout_s = timeout_s
        self._lock = threading.Lock()

    # BrokerAccounts -------------------------------------------------------------------------------------------
    def upsert(self, account: BrokerAccount, password: str) -> None:
        acls = [a.as_dict() for a in account.acls]
        # Roles are replaced whole: delete (absent is fine) and create, so no stale rule survives an update.
        # One message, one connection: the plugin runs the commands in order.
        delete_role = {"command": "deleteRole", "rolename": account.role}
        create_role = {"command": "createRole", "rolename": account.role, "acls": acls}
        create: dict[str, Any] = {
            "command": "createClient",
            "username": account.username,
            "password": password,
            "textname": account.text_name,
            "roles": [{"rolename": account.role}],
        }
        if account.client_id:
            create["clientid"] = account.client_id
        answers = self.run([delete_role, create_role, create], tolerate=("not found", "already exists"))
        if answers[1].get("error"):
            raise BrokerAccountsError(f"the broker refused createRole {account.role}: {answers[1]['error']}")
        if answers[2].get("error"):
            self.run(
                [
                    {
                        "command": "modifyClient",
                        "username": account.username,
                        "password": password,
                        "clientid": account.client_id or "",
                        "textname": account.text_name,
                        "roles": [{"rolename": account.role}],
                    },
                    {"command": "enableClient", "username": account.username},
                ]
            )

    def set_password(self, username: str, password: str) -> None:
        self.run([{"command": "setClientPassword", "username": username, "password": password}])

    def remove(self, username: str) -> None:
        self.run(
            [
                {"command": "deleteClient", "username": username},
                {"command": "deleteRole", "rolename": f"device.{username}"},
            ],
            tolerate=("not found",),
        )

    def usernames(self) -> list[str]:
        answers = self.run([{"command": "listClients", "verbose": False, "count": -1, "offset": 0}])
        data = answers[0].get("data") or {}
        return [str(u) for u in data.get("clients", [])]

    # the control topic ------------------------------------------------------------------------------------
    def run(self, commands: list[dict[str, Any]], tolerate: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Send `commands` in one message and return the plugin's answers in order. An answer with an error
        raises, unless the error contains one of `tolerate` (e.g. deleting what is already gone)."""
        tag = secrets.token_hex(6)
        for i, c in enumerate(commands):
            c["correlationData"] = f"{tag}-{i}"
        with self._lock:
            answers = self._exchange(commands, tag)
        by_tag = {a.get("correlationData"): a for a in answers}
        ordered = []
        for c in commands:
            a = by_tag.get(c["correlationData"])
            if a is None:
                raise BrokerAccountsError(f"the broker did not answer {c['command']}")
            error = a.get("error")
            if error and not any(t in str(error).lower() for t in tolerate):
                what = c.get("username") or c.get("rolename") or ""
                raise BrokerAccountsError(f"the broker refused {c['command']} {what}: {error}")
            ordered.append(a)
        return ordered

    def _exchange(self, commands: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
        login = self.login
        done = threading.Event()
        answers: list[dict[str, Any]] = []
        failure: list[str] = []
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{login.username}-{tag}", protocol=mqtt.MQTTv5
        )
        c.username_pw_set(login.username, login.password)
        if login.tls is not None:
            c.tls_set_context(login.tls)
        payload = json.dumps({"commands": commands})

        def on_connect(cl: mqtt.Client, _u: object, _f: object, rc: Any, _p: object) -> None:
            if rc.is_failure:
                failure.append(f"the broker refused the administrative login: {rc}")
                done.set()
                return
            cl.subscribe(f"{CONTROL_TOPIC}/response", qos=1)

        def on_subscribe(cl: mqtt.Client, _u: object, _m: int, reasons: Any, _p: object) -> None:
            if any(getattr(r, "is_failure", False) for r in reasons):
                failure.append("the administrative account may not read the plugin's answers")
                done.set()
                return
            cl.publish(CONTROL_TOPIC, payload, qos=1)

        def on_message(_cl: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            try:
                got = json.loads(msg.payload).get("responses") or []
            except (ValueError, AttributeError):
                return
            answers.extend(a for a in got if str(a.get("correlationData", "")).startswith(tag))
            if len(answers) >= len(commands):
                done.set()

        def on_disconnect(_cl: mqtt.Client, _u: object, _f: object, rc: Any, _p: object) -> None:
            if not done.is_set():
                failure.append(f"the broker closed the administrative connection: {rc}")
                done.set()

        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        c.on_subscribe = on_subscribe
        c.on_message = on_message
        try:
            c.connect(login.host, login.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerAccountsError(f"cannot reach the broker at {login.host}:{login.port}: {exc}") from exc
        c.loop_start()
        try:
            if not done.wait(self.timeout_s):
                raise BrokerAccountsError(
                    f"no answer from the broker's account plugin within {self.timeout_s:.0f} s "
                    "(is the dynamic-security plugin loaded?)"
                )
        finally:
            c.disconnect()
            c.loop_stop()
        if failure:
            raise BrokerAccountsError(failure[0])
        return answers
