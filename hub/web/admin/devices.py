"""Admin page for the device registry: cameras, edge agents, loudspeakers — list, rename, set a speaker's
village, approve a speaker that registered itself (`pending`), remove a decommissioned device.

A device's district and commune are part of its identity (its MQTT topic), so they are not edited here: a
device that moves is reconfigured on site and reports under its new topic. With the hub running, the
in-memory registry (hub/core/state.py) is changed together with SQL, so the next flush does not undo an edit.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from contract import Channel, Kind, Topic
from hub.core.areas import area_names
from hub.core.audit import record_change
from hub.core.db import Agent, Camera, Snapshot
from hub.core.devices_import import camera_record, speaker_record
from hub.core.geo import Village
from hub.core.provisioning import account_states
from hub.core.snapshots import SnapshotStore
from hub.core.speaker_models import Speaker
from hub.web.access import Perm, principal, requires
from hub.web.admin.accounts import PAGE_KIND, account_of
from hub.web.admin.common import FormError, admin_page, optional, refuse, see_other
from hub.web.admin.points import device_extras
from hub.web.context import ctx
from hub.web.errors import not_found
from hub.web.params import SLUG_PATTERN

if TYPE_CHECKING:
    from hub.core.runtime import HubCore

log = logging.getLogger("hub.web")
KINDS = {"cameras": "Camera", "agents": "Edge agent", "speakers": "Loa"}
LIST_LIMIT = 1000
ACCOUNT_LABELS = {"active": "đang hoạt động", "revoked": "đã thu hồi", "pending": "chờ cấp"}
STILL_REPORTING = timedelta(minutes=10)  # a device heard this recently would come straight back


def agent_record(a: Agent) -> dict[str, Any]:
    return {
        "district": a.district,
        "commune": a.commune,
        "id": a.slug,
        "state": a.state,
        "version": a.version,
    }


def _model(kind: str) -> Any:
    return {"cameras": Camera, "agents": Agent, "speakers": Speaker}[kind]


def _list(
    s: Session, kind: str, district: str | None, commune: str | None, q: str | None, pending: bool = False
) -> tuple[list[Any], int]:
    model = _model(kind)
    stmt = select(model)
    if kind == "speakers" and pending:
        stmt = stmt.where(Speaker.pending.is_(True))
    if district:
        stmt = stmt.where(model.district == district)
    if commune:
        stmt = stmt.where(model.commune == commune)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            or_(model.slug.ilike(like), model.name.ilike(like))
            if kind != "agents"
            else model.slug.ilike(like)
        )
    rows = list(s.scalars(stmt.order_by(model.district, model.commune, model.slug).limit(LIST_LIMIT + 1)))
    return rows[:LIST_LIMIT], len(rows)


@requires(Perm.MANAGE_DEVICES)
async def devices_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    kind = request.query.get("kind", "cameras")
    if kind not in KINDS:
        kind = "cameras"
    area = request.query.get("area", "")
    district, _, commune = area.partition("/")
    q = (request.query.get("q") or "").strip()[:100] or None
    only_pending = request.query.get("pending") == "1"

    def load(s: Session) -> tuple[list[dict[str, Any]], int, dict[tuple[str, str], str], int]:
        rows, total = _list(s, kind, district or None, commune or None, q, only_pending)
        accounts = account_states(s, PAGE_KIND[kind], [r.key for r in rows]) if kind in PAGE_KIND else {}
        waiting = s.scalar(select(func.count()).select_from(Speaker).where(Speaker.pending.is_(True))) or 0
        items = [
            {
                "district": r.district,
                "commune": r.commune,
                "id": r.slug,
                "name": getattr(r, "name", None),
                "status": getattr(r, "status", None) or getattr(r, "state", None),
                "last_seen": r.last_seen,
                "extra": getattr(r, "agent_key", None)
                or getattr(r, "village", None)
                or getattr(r, "version", None),
                "account": accounts.get(r.key, "pending") if kind in PAGE_KIND else None,
                "pending": bool(getattr(r, "pending", False)),
            }
            for r in rows
        ]
        return items, total, area_names(s, c.config), waiting

    items, total, names, waiting = await c.db.run(load)
    return admin_page(
        request,
        "admin_devices.html",
        kind=kind,
        kinds=KINDS,
        items=items,
        more=total > LIST_LIMIT,
        limit=LIST_LIMIT,
        area=area,
        q=q or "",
        pending=only_pending,
        waiting=waiting,
        areas=[
            {"value": f"{d}/{cm}" if cm else d, "label": n, "commune": bool(cm)}
            for (d, cm), n in sorted(names.items())
        ],
        names={f"{d}/{cm}": n for (d, cm), n in names.items()},
        account_labels=ACCOUNT_LABELS,
    )


def _key(request: web.Request) -> tuple[str, str]:
    m = request.match_info
    return m["kind"], f"{m['district']}/{m['commune']}/{m['id']}"


def _load_device(s: Session, kind: str, key: str) -> Any:
    obj = s.get(_model(kind), key)
    if obj is None:
        raise not_found(f"Không có thiết bị {key}")
    return obj


def _record(kind: str, obj: Any) -> dict[str, Any]:
    if kind == "cameras":
        return camera_record(obj)
    if kind == "speakers":
        return speaker_record(obj)
    return agent_record(obj)


async def _device_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    c = ctx(request)
    kind, key = _key(request)
    extras: dict[str, Any] = {}  # the camera point card's choices (hub/web/admin/points.py)

    def load(s: Session) -> tuple[dict[str, Any], list[dict[str, str]], dict[tuple[str, str], str]]:
        obj = _load_device(s, kind, key)
        extras.update(device_extras(s, kind, obj.district, obj.commune))
        villages = []
        if kind == "speakers":
            villages = [
                {"slug": v.slug, "name": v.name}
                for v in s.scalars(
                    select(Village).where(Village.district == obj.district, Village.commune == obj.commune)
                )
            ]
        rec = {**_record(kind, obj), "last_seen": obj.last_seen, "account": account_of(s, kind, key)}
        return rec, villages, area_names(s, c.config)

    device, villages, names = await c.db.run(load)
    return admin_page(
        request,
        "admin_device.html",
        status=status,
        error=error,
        kind=kind,
        kind_label=KINDS[kind],
        key=key,
        device=device,
        villages=villages,
        commune_name=names.get((device["district"], device["commune"]), device["commune"]),
        **extras,
    )


@requires(Perm.MANAGE_DEVICES)
async def device_page(request: web.Request) -> web.StreamResponse:
    return await _device_page(request)


@requires(Perm.MANAGE_DEVICES)
async def save_device(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    kind, key = _key(request)
    form = await request.post()
    try:
        if kind == "agents":
            raise FormError("Edge agent không có thông tin để sửa ở đây; tên camera do cấu hình agent đặt")
        name = optional(form, "name", "Tên", max_len=200)
        village = optional(form, "village", "Thôn", max_len=64) if kind == "speakers" else None
    except FormError as exc:
        return await refuse(request, "device_edit", str(exc), _device_page)
    now = c.clock()

    def save(s: Session) -> str | None:
        obj = _load_device(s, kind, key)
        if village is not None and s.get(Village, (obj.district, obj.commune, village)) is None:
            return f"Thôn {village!r} không thuộc xã của loa này"
        before = _record(kind, obj)
        obj.name = name
        if kind == "speakers":
            obj.village = village
        after = _record(kind, obj)
        if after != before:
            record_change(
                s, actor=p.username, action=f"{kind[:-1]}.update", target=f"{kind[:-1]}:{key}", now=now,
                before=before, after=after, district=obj.district, commune=obj.commune,
            )  # fmt: skip
        return None

    problem = await c.db.run(save)
    if problem:
        return await refuse(request, "device_edit", problem, _device_page)
    if kind == "cameras" and c.hub is not None:
        renamed_in_memory(c.hub, key, name)
    return see_other(f"/admin/devices/{kind}/{key}?msg=device_saved")


@requires(Perm.MANAGE_DEVICES)
async def approve_speaker(request: web.Request) -> web.StreamResponse:
    """A receiver that registered itself joins its commune's programmes and alerts only from here."""
    c, p = ctx(request), principal(request)
    kind, key = _key(request)
    if kind != "speakers":
        raise not_found("Chỉ loa mới cần duyệt")
    now = c.clock()

    def approve(s: Session) -> None:
        obj = _load_device(s, kind, key)
        if not obj.pending:
            return
        obj.pending = False
        record_change(
            s, actor=p.username, action="speaker.approve", target=f"speaker:{key}", now=now,
            before={**speaker_record(obj), "pending": True}, after={**speaker_record(obj), "pending": False},
            district=obj.district, commune=obj.commune,
        )  # fmt: skip

    await c.db.run(approve)
    log.info("speaker %s approved by %s", key, p.username)
    return see_other("/admin/devices?kind=speakers&msg=speaker_approved")


def _remove(s: Session, kind: str, key: str, now: datetime) -> tuple[dict[str, Any] | None, str | None]:
    obj = _load_device(s, kind, key)
    if obj.last_seen is not None and now - obj.last_seen < STILL_REPORTING:
        return None, (
            "Thiết bị vẫn đang gửi dữ liệu; hãy tắt hoặc cấu hình lại nó trước khi gỡ khỏi danh mục"
            " (nếu không nó sẽ xuất hiện lại)"
        )
    before = _record(kind, obj)
    if kind == "cameras":
        s.execute(delete(Snapshot).where(Snapshot.camera_key == key))
    if kind == "agents":
        s.execute(update(Camera).where(Camera.agent_key == key).values(agent_key=None))
    s.delete(obj)
    return before, None


@requires(Perm.MANAGE_DEVICES)
async def remove_device(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    kind, key = _key(request)
    now = c.clock()

    def remove(s: Session) -> str | None:
        before, problem = _remove(s, kind, key, now)
        if problem is None and before is not None:
            # The outage history (transitions) stays: past reports still account for the device.
            record_change(
                s, actor=p.username, action=f"{kind[:-1]}.remove", target=f"{kind[:-1]}:{key}", now=now,
                before=before, district=before["district"], commune=before["commune"],
            )  # fmt: skip
        return problem

    problem = await c.db.run(remove)
    if problem:
        return await refuse(request, "device_remove", problem, _device_page, 409)
    if kind == "cameras":  # its snapshot files go with its index row
        await asyncio.to_thread(SnapshotStore.for_config(c.config).remove_camera, key)
    if c.hub is not None:
        removed_in_memory(c.hub, kind, key)
        await clear_retained(c.hub, kind, key)
    return see_other(f"/admin/devices?kind={kind}&msg=device_removed")


# --- the running hub's in-memory registry ------------------------------------------------------------------


def renamed_in_memory(hub: HubCore, key: str, name: str | None) -> None:
    cam = hub.store.cameras.get(key)
    if cam is not None and cam.name != name:
        cam.name = name
        hub.store.announce.cameras.add(key)
        hub.store.changes.cameras.add(key)  # the flush rewrites the row as saved and the web's views follow


def removed_in_memory(hub: HubCore, kind: str, key: str) -> None:
    store = hub.store
    if kind == "cameras":
        cam = store.cameras.pop(key, None)
        if cam is not None and cam.agent_key:
            store.cameras_of(cam.agent_key).discard(key)
        for pending in (store.changes.cameras, store.changes.metrics):
            pending.discard(key)
        hub.forget_camera(key)
    elif kind == "agents":
        if key in store.agents:
            store.forget_agent(key)  # it may register again, wherever its status says
            for cam_key in list(store.cameras_of(key)):
                if (cam := store.cameras.get(cam_key)) is not None:
                    cam.agent_key = None
                    store.changes.cameras.add(cam_key)
            store.changes.agents.discard(key)


# What the broker keeps for a device: left there, a removed speaker or agent would be registered again from its
# retained status at the next hub start (and a camera's last picture would stay on the broker).
_RETAINED_OF = {
    "cameras": (Kind.CAMERA, Channel.SNAPSHOT),
    "agents": (Kind.EDGE, Channel.STATUS),
    "speakers": (Kind.SPEAKER, Channel.STATUS),
}


async def clear_retained(hub: HubCore, kind: str, key: str) -> None:
    district, commune, slug = key.split("/")
    k, ch = _RETAINED_OF[kind]
    try:
        await hub.publish(Topic(district, commune, k, slug, ch), b"", retain=True)
    except Exception as exc:  # the registry change stands; the next start may register the device again
        log.warning("could not clear the retained %s of %s on the broker: %r", ch.value, key, exc)


def add_routes(app: web.Application) -> None:
    path = f"/admin/devices/{{kind:cameras|agents|speakers}}/{{district:{SLUG_PATTERN}}}/{{commune:{SLUG_PATTERN}}}/{{id:{SLUG_PATTERN}}}"
    app.router.add_get("/admin/devices", devices_page)
    app.router.add_get(path, device_page)
    app.router.add_post(path, save_device)
    app.router.add_post(path + "/remove", remove_device)
    app.router.add_post(path + "/approve", approve_speaker)
