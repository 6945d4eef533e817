"""Broker accounts from the device registry: add, rotate, revoke, provision, and the lists the admin sees.

Every change goes the same way: check the registry (SQL), change the broker (`BrokerAccounts`, in a thread),
then record it with its audit entry (SQL, one transaction). If the broker refuses, nothing is recorded; if the
last step fails after the broker changed, provisioning the device again puts both back in line.

A password is made here, handed to the broker and written into the provisioning file that is returned once;
the hub keeps no copy. Used by the admin devices page, the JSON API and `python -m hub device …`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract import provisioning
from hub.core.account_models import ACTIVE, REVOKED, BrokerAccountRow
from hub.core.audit import record_change
from hub.core.broker_accounts import BrokerAccounts
from hub.core.broker_acl import AccountError, DeviceRef, account_for
from hub.core.config import CoreConfig
from hub.core.config_mqtt import read_secret
from hub.core.db import STATUS_UNKNOWN, Agent, Database, utcnow
from hub.core.speaker_models import Speaker

PASSWORD_BYTES = 24  # 32 characters of URL-safe base64: 192 bits


class RegistryError(Exception):
    """A registry change that cannot be made (unknown device, already has an account …); Vietnamese message."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Provisioned:
    ref: DeviceRef
    password: str
    text: str  # the provisioning file


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def secrets_dir(config: CoreConfig) -> Path:
    return config.data_dir / "secrets"


def admin_password_file(config: CoreConfig) -> Path:
    return config.broker.admin_password_file or secrets_dir(config) / "broker-admin.password"


def ca_file(config: CoreConfig) -> Path:
    return config.broker.ca_file or config.data_dir / "ca" / "ca.crt"


def broker_accounts(config: CoreConfig) -> BrokerAccounts | None:
    """The configured backend, or None when the hub does not manage the broker's accounts."""
    if config.broker.accounts == "none":
        return None
    from hub.core.dynsec import AdminLogin, DynsecAccounts

    login = AdminLogin(
        host=config.mqtt.host,
        port=config.mqtt.port,
        username=config.broker.admin_username,
        password=read_secret(admin_password_file(config)),
        tls=config.mqtt.ssl_context(),
    )
    return DynsecAccounts(login)


def render_file(config: CoreConfig, ref: DeviceRef, password: str, now: datetime) -> str:
    ca = ca_file(config)
    pem = ca.read_text(encoding="ascii") if ca.exists() else None
    p = provisioning.ProvisioningFile(
        issued_at=now.replace(microsecond=0).isoformat() + "Z",
        device=provisioning.ProvisionedDevice(
            kind=ref.kind, id=ref.slug, district=ref.district, commune=ref.commune
        ),
        mqtt=provisioning.ProvisionedMqtt(
            host=config.broker.public_host or config.mqtt.host,
            port=config.broker.public_port or config.mqtt.port,
            username=ref.username,
            password=password,
            client_id=ref.client_id,
            tls_ca_pem=pem,
        ),
    )
    return provisioning.render(p)


def account_record(row: BrokerAccountRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "kind": row.kind,
        "device": row.device_key,
        "communes": list(row.communes or []),
        "state": row.state,
        "created_at": row.created_at,
        "password_set_at": row.password_set_at,
        "revoked_at": row.revoked_at,
        "issued_by": row.issued_by,
    }


def _audit(s: Session, actor: str, action: str, ref: DeviceRef, now: datetime, **records: Any) -> None:
    record_change(
        s, actor=actor, action=f"broker_account.{action}", target=f"{ref.kind}:{ref.key}", now=now,
        district=ref.district, commune=ref.commune, **records,
    )  # fmt: skip


def _ensure_registry_row(s: Session, ref: DeviceRef, name: str | None) -> None:
    """The device in the registry, so it is listed (pending, then online) before it first reports."""
    if ref.kind == "edge" and s.get(Agent, ref.key) is None:
        s.add(
            Agent(
                key=ref.key, district=ref.district, commune=ref.commune, slug=ref.slug, state=STATUS_UNKNOWN
            )
        )
    elif ref.kind == "speaker" and s.get(Speaker, ref.key) is None:
        s.add(
            Speaker(
                key=ref.key,
                district=ref.district,
                commune=ref.commune,
                slug=ref.slug,
                name=name,
                status=STATUS_UNKNOWN,
            )  # fmt: skip
        )


class Provisioner:
    def __init__(
        self,
        config: CoreConfig,
        db: Database,
        accounts: BrokerAccounts,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.db = db
        self.accounts = accounts
        self.clock = clock

    async def add(
        self,
        ref: DeviceRef,
        actor: str,
        communes: Iterable[str] = (),
        name: str | None = None,
        replace: bool = False,
    ) -> Provisioned:
        """A new account (or, with `replace`, a fresh one for a device that had one) and its file."""
        served = self._communes(ref, communes)

        def check(s: Session) -> dict[str, Any] | None:
            row = s.get(BrokerAccountRow, ref.username)
            if row is not None and row.state == ACTIVE and not replace:
                raise RegistryError(f"{ref.kind} {ref.key} đã có tài khoản; hãy đổi mật khẩu hoặc thu hồi")
            return account_record(row) if row is not None else None

        before = await self.db.run(check)
        password = new_password()
        text = name or ref.key
        await asyncio.to_thread(self.accounts.upsert, account_for(ref, served, text), password)
        now = self.clock()

        def record(s: Session) -> None:
            row = s.get(BrokerAccountRow, ref.username)
            if row is None:
                row = BrokerAccountRow(
                    username=ref.username, kind=ref.kind, device_key=ref.key, created_at=now
                )
                s.add(row)
            row.district, row.commune, row.communes = ref.district, ref.commune, served
            row.state, row.password_set_at, row.revoked_at, row.issued_by = ACTIVE, now, None, actor
            _ensure_registry_row(s, ref, name)
            _audit(s, actor, "create" if before is None else "replace", ref, now, before=before,
                   after=account_record(row))  # fmt: skip

        await self.db.run(record)
        return Provisioned(ref, password, render_file(self.config, ref, password, now))

    async def rotate(self, ref: DeviceRef, actor: str) -> Provisioned:
        """A new password: the old one stops working at once (a connected device is disconnected)."""
        await self.db.run(lambda s: self._active(s, ref))
        password = new_password()
        await asyncio.to_thread(self.accounts.set_password, ref.username, password)
        now = self.clock()

        def record(s: Session) -> None:
            row = self._active(s, ref)
            row.password_set_at, row.issued_by = now, actor
            _audit(s, actor, "rotate", ref, now, after=account_record(row))

        await self.db.run(record)
        return Provisioned(ref, password, render_file(self.config, ref, password, now))

    async def revoke(self, ref: DeviceRef, actor: str) -> None:
        """The account is deleted on the broker (a connected device is disconnected at once)."""
        await self.db.run(lambda s: self._active(s, ref))
        await asyncio.to_thread(self.accounts.remove, ref.username)
        now = self.clock()

        def record(s: Session) -> None:
            row = self._active(s, ref)
            before = account_record(row)
            row.state, row.revoked_at = REVOKED, now
            _audit(s, actor, "revoke", ref, now, before=before, after=account_record(row))

        await self.db.run(record)

    async def provision(
        self, ref: DeviceRef, actor: str, communes: Iterable[str] = (), name: str | None = None
    ) -> Provisioned:
        """Whatever the device's account is (none, revoked, active), a working one and a new file."""
        return await self.add(ref, actor, communes, name, replace=True)

    def _communes(self, ref: DeviceRef, communes: Iterable[str]) -> list[str]:
        served = list(dict.fromkeys([*([ref.commune] if ref.commune else []), *communes]))
        if ref.kind != "edge" and len(served) > 1:
            raise RegistryError("chỉ hộp giám sát (edge) mới báo cáo camera của xã khác", 422)
        try:
            account_for(ref, served)
        except AccountError as exc:
            raise RegistryError(str(exc), 422) from None
        return served

    @staticmethod
    def _active(s: Session, ref: DeviceRef) -> BrokerAccountRow:
        row = s.get(BrokerAccountRow, ref.username)
        if row is None or row.state != ACTIVE:
            raise RegistryError(f"{ref.kind} {ref.key} chưa có tài khoản đang hoạt động", 404)
        return row


# --- what the admin sees ---------------------------------------------------------------------------------


def list_accounts(s: Session, kind: str | None = None) -> list[BrokerAccountRow]:
    stmt = select(BrokerAccountRow)
    if kind:
        stmt = stmt.where(BrokerAccountRow.kind == kind)
    return list(s.scalars(stmt.order_by(BrokerAccountRow.kind, BrokerAccountRow.device_key)))


def account_states(s: Session, kind: str, keys: Iterable[str]) -> dict[str, str]:
    """Registry key → `active` / `revoked` for the devices of `kind` among `keys` (absent: no account)."""
    wanted = list(keys)
    out: dict[str, str] = {}
    for i in range(0, len(wanted), 500):
        stmt = select(BrokerAccountRow.device_key, BrokerAccountRow.state).where(
            BrokerAccountRow.kind == kind, BrokerAccountRow.device_key.in_(wanted[i : i + 500])
        )
        out.update((k, st) for k, st in s.execute(stmt))
    return out


def pending_devices(s: Session) -> list[tuple[str, str]]:
    """(kind, key) of registry devices the broker refuses: no account yet, or a revoked one."""
    active = {
        (k, key)
        for k, key in s.execute(
            select(BrokerAccountRow.kind, BrokerAccountRow.device_key).where(BrokerAccountRow.state == ACTIVE)
        )
    }
    found = [("edge", k) for k in s.scalars(select(Agent.key))]
    found += [("speaker", k) for k in s.scalars(select(Speaker.key))]
    return sorted(p for p in found if p not in active)
