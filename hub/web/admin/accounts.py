"""Broker accounts on the admin pages and in the JSON API: devices waiting for an account, a new device, and an
edge box's or receiver's account (give, rotate, revoke). The work is hub/core/provisioning.py's.

A provisioning file holds a password the hub does not keep: it is shown once, in the answer to the request
that made it (text, download link and QR code), never stored, never logged, and never cached (no-store).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from contract import format_validation_error
from hub.core import qr
from hub.core.account_models import BrokerAccountRow
from hub.core.areas import area_names
from hub.core.broker_accounts import BrokerAccountsError
from hub.core.broker_acl import AccountError, DeviceRef
from hub.core.openapi import ApiRoute, Param, json_body
from hub.core.provisioning import (
    Provisioned,
    Provisioner,
    RegistryError,
    account_record,
    broker_accounts,
    list_accounts,
    pending_devices,
)
from hub.web.access import Perm, principal, requires
from hub.web.admin.common import admin_page, rejected, see_other
from hub.web.context import ctx
from hub.web.errors import ApiError
from hub.web.jsonout import json_response
from hub.web.params import SLUG_PATTERN

log = logging.getLogger("hub.web.admin")
PAGE_KIND = {"agents": "edge", "speakers": "speaker"}  # the admin pages' kinds → account kinds
KIND_LABEL = {"edge": "Hộp giám sát (edge)", "speaker": "Bộ thu loa", "hub": "Tiến trình hub"}


def account_of(s: Session, page_kind: str, key: str) -> dict[str, Any] | None:
    """The account of a device shown on its admin page (None: it has none)."""
    kind = PAGE_KIND.get(page_kind)
    if kind is None:
        return None
    ref = DeviceRef.parse(kind, key)
    row = s.get(BrokerAccountRow, ref.username)
    return account_record(row) if row is not None else None


def _provisioner(request: web.Request) -> Provisioner:
    c = ctx(request)
    try:
        accounts = broker_accounts(c.config)
    except ValueError as exc:  # the administrative password file is missing
        raise RegistryError(f"Hub chưa được cấu hình để quản lý tài khoản broker: {exc}", 503) from None
    if accounts is None:
        raise RegistryError("Hub không quản lý tài khoản broker (broker.accounts: none)", 409)
    return Provisioner(c.config, c.db, accounts, c.clock)


def _file_view(done: Provisioned) -> dict[str, Any]:
    data = base64.b64encode(done.text.encode()).decode()
    return {
        "username": done.ref.username,
        "client_id": done.ref.client_id,
        "kind": done.ref.kind,
        "key": done.ref.key,
        "text": done.text,
        "download": f"data:application/x-yaml;base64,{data}",
        "file_name": f"{done.ref.username}.provisioning.yaml",
        "qr": qr.png_data_url(done.text),
    }


def _shown(request: web.Request, done: Provisioned, what: str) -> web.Response:
    log.info("broker account %s: %s by %s", what, done.ref.username, principal(request).username)
    return admin_page(
        request, "admin_provisioned.html", file=_file_view(done), what=what, labels_kind=KIND_LABEL
    )


async def _refused(request: web.Request, message: str, status: int) -> web.Response:
    rejected(request, "broker_account", message)
    return await _pending_page(request, status, message)


# --- pages ------------------------------------------------------------------------------------------------


async def _pending_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    c = ctx(request)

    def load(s: Session) -> tuple[list[tuple[str, str]], list[dict[str, Any]], dict[tuple[str, str], str]]:
        return pending_devices(s), [account_record(r) for r in list_accounts(s)], area_names(s, c.config)

    pending, accounts, names = await c.db.run(load)
    return admin_page(
        request, "admin_accounts.html", status=status, error=error, pending=pending, accounts=accounts,
        managed=c.config.broker.accounts != "none", labels_kind=KIND_LABEL,
        communes=[{"value": f"{d}/{cm}", "label": n} for (d, cm), n in sorted(names.items()) if cm],
    )  # fmt: skip


@requires(Perm.MANAGE_DEVICES)
async def accounts_page(request: web.Request) -> web.StreamResponse:
    return await _pending_page(request)


def _form_text(form: Any, name: str, max_len: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:max_len] if isinstance(value, str) else ""


@requires(Perm.MANAGE_DEVICES)
async def new_account(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    kind = _form_text(form, "kind", 16)
    area = _form_text(form, "area", 130)
    slug = _form_text(form, "id", 64)
    try:
        if kind not in ("edge", "speaker"):
            raise RegistryError("Loại thiết bị: hộp giám sát hoặc bộ thu loa", 400)
        ref = DeviceRef.parse(kind, f"{area}/{slug}")
        communes = [x.strip() for x in _form_text(form, "communes", 1000).split(",") if x.strip()]
        done = await _provisioner(request).add(
            ref, principal(request).username, communes, _form_text(form, "name") or None
        )
    except AccountError as exc:
        return await _refused(request, f"Mã thiết bị: {exc}", 400)
    except (RegistryError, BrokerAccountsError) as exc:
        return await _refused(request, str(exc), getattr(exc, "status", 502))
    return _shown(request, done, "create")


async def _device_action(request: web.Request, action: str) -> web.StreamResponse:
    m = request.match_info
    page_kind = m["kind"]
    key = f"{m['district']}/{m['commune']}/{m['id']}"
    ref = DeviceRef.parse(PAGE_KIND[page_kind], key)
    actor = principal(request).username
    try:
        prov = _provisioner(request)
        if action == "revoke":
            await prov.revoke(ref, actor)
            log.info("broker account revoked: %s by %s", ref.username, actor)
            return see_other(f"/admin/devices/{page_kind}/{key}?msg=account_revoked")
        done = await (prov.rotate(ref, actor) if action == "rotate" else prov.provision(ref, actor))
    except (RegistryError, BrokerAccountsError) as exc:
        return await _refused(request, str(exc), getattr(exc, "status", 502))
    return _shown(request, done, action)


@requires(Perm.MANAGE_DEVICES)
async def provision_device(request: web.Request) -> web.StreamResponse:
    return await _device_action(request, "provision")


@requires(Perm.MANAGE_DEVICES)
async def rotate_device(request: web.Request) -> web.StreamResponse:
    return await _device_action(request, "rotate")


@requires(Perm.MANAGE_DEVICES)
async def revoke_device(request: web.Request) -> web.StreamResponse:
    return await _device_action(request, "revoke")


def add_routes(app: web.Application) -> None:
    base = f"/admin/devices/{{kind:agents|speakers}}/{{district:{SLUG_PATTERN}}}/{{commune:{SLUG_PATTERN}}}/{{id:{SLUG_PATTERN}}}/account"
    app.router.add_get("/admin/accounts", accounts_page)
    app.router.add_post("/admin/accounts", new_account)
    app.router.add_post(base + "/provision", provision_device)
    app.router.add_post(base + "/rotate", rotate_device)
    app.router.add_post(base + "/revoke", revoke_device)


# --- JSON API ---------------------------------------------------------------------------------------------


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern="^(edge|speaker)$")
    district: str = Field(pattern=SLUG_PATTERN.join("^$"))
    commune: str = Field(pattern=SLUG_PATTERN.join("^$"))
    id: str = Field(pattern=SLUG_PATTERN.join("^$"))
    name: str | None = Field(default=None, max_length=200)
    communes: list[str] = Field(default_factory=list, max_length=100)
    replace: bool = Field(default=False, description="give a fresh account to a device that has one")


def _file_json(done: Provisioned) -> dict[str, Any]:
    return {
        "username": done.ref.username,
        "client_id": done.ref.client_id,
        "provisioning": done.text,
        "qr_svg": qr.svg(done.text),
    }


def _api_error(exc: Exception) -> ApiError:
    if isinstance(exc, RegistryError):
        return ApiError(exc.status, "refused", str(exc))
    return ApiError(502, "broker", str(exc))


@requires(Perm.MANAGE_DEVICES)
async def api_accounts(request: web.Request) -> web.StreamResponse:
    c = ctx(request)

    def load(s: Session) -> dict[str, Any]:
        return {
            "accounts": [account_record(r) for r in list_accounts(s)],
            "pending": [{"kind": k, "device": key} for k, key in pending_devices(s)],
        }

    return json_response(await c.db.run(load))


@requires(Perm.MANAGE_DEVICES)
async def api_new_account(request: web.Request) -> web.StreamResponse:
    try:
        body = NewAccount.model_validate_json(await request.read())
    except ValidationError as exc:
        raise ApiError(400, "invalid_body", format_validation_error(exc)) from None
    ref = DeviceRef(body.kind, body.id, body.district, body.commune)  # type: ignore[arg-type]
    try:
        prov = _provisioner(request)
        actor = principal(request).username
        done = await prov.add(ref, actor, body.communes, body.name, replace=body.replace)
    except (RegistryError, BrokerAccountsError) as exc:
        raise _api_error(exc) from None
    return json_response(_file_json(done), status=201)


async def _api_action(request: web.Request, action: str) -> web.StreamResponse:
    m = request.match_info
    ref = DeviceRef.parse(m["kind"], f"{m['district']}/{m['commune']}/{m['id']}")
    try:
        prov = _provisioner(request)
        actor = principal(request).username
        if action == "revoke":
            await prov.revoke(ref, actor)
            return json_response({"username": ref.username, "state": "revoked"})
        done = await prov.rotate(ref, actor)
    except (RegistryError, BrokerAccountsError) as exc:
        raise _api_error(exc) from None
    return json_response(_file_json(done))


@requires(Perm.MANAGE_DEVICES)
async def api_rotate(request: web.Request) -> web.StreamResponse:
    return await _api_action(request, "rotate")


@requires(Perm.MANAGE_DEVICES)
async def api_revoke(request: web.Request) -> web.StreamResponse:
    return await _api_action(request, "revoke")


_DEVICE = f"/devices/accounts/{{kind:edge|speaker}}/{{district:{SLUG_PATTERN}}}/{{commune:{SLUG_PATTERN}}}/{{id:{SLUG_PATTERN}}}"
_PATH_PARAMS = (
    Param("kind", "edge or speaker", {"enum": ["edge", "speaker"]}, "path"),
    *(
        Param(n, d, {"type": "string", "pattern": SLUG_PATTERN.join("^$")}, "path")
        for n, d in (("district", "district code"), ("commune", "commune code"), ("id", "device code"))
    ),
)
_FILE = {"type": "object", "properties": {"username": {}, "client_id": {}, "provisioning": {}, "qr_svg": {}}}
_REVOKED = {"type": "object", "properties": {"username": {"type": "string"}, "state": {"const": "revoked"}}}
_ACCOUNTS = {
    "type": "object",
    "properties": {"accounts": {"type": "array"}, "pending": {"type": "array"}},
}
_S = SLUG_PATTERN.join("^$")
_NEW_ACCOUNT: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "district", "commune", "id"],
    "properties": {
        "kind": {"enum": ["edge", "speaker"]},
        "district": {"type": "string", "pattern": _S},
        "commune": {"type": "string", "pattern": _S},
        "id": {"type": "string", "pattern": _S},
        "name": {"type": ["string", "null"], "maxLength": 200},
        "communes": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
        "replace": {"type": "boolean", "description": "give a fresh account to a device that has one"},
    },
    "additionalProperties": False,
}
ROUTES = [
    ApiRoute(
        "GET", "/devices/accounts", api_accounts, "Broker accounts and the devices waiting for one",
        response=_ACCOUNTS, errors=(401, 403),
    ),
    ApiRoute(
        "POST", "/devices/accounts", api_new_account,
        "Give a device a broker account: its provisioning file (shown once) and QR code. 404: no such device in "
        "the registry; 409: it has an account already (replace: true gives a fresh one) or the hub manages no "
        "broker accounts; 422: communes for a receiver, or outside the device's district",
        response=_FILE, errors=(400, 401, 403, 404, 409, 415, 422, 502, 503),
        body=json_body(_NEW_ACCOUNT), status=201,
    ),
    ApiRoute(
        "POST", _DEVICE + "/rotate", api_rotate, "New password for a device (the old one stops at once)",
        params=_PATH_PARAMS, response=_FILE, errors=(401, 403, 404, 409, 422, 502, 503),
    ),
    ApiRoute(
        "POST", _DEVICE + "/revoke", api_revoke, "Revoke a device's account (it is disconnected at once)",
        params=_PATH_PARAMS, response=_REVOKED, errors=(401, 403, 404, 409, 422, 502, 503),
    ),
]  # fmt: skip
