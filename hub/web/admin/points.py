"""Admin pages for camera points (list, add, edit, remove) and the forms on a device's page that set a camera's
point, purpose, owner and maintainer, or a speaker's position. Every write goes through
hub/core/camera_points_edit.py, the same as the API, and is audited there."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import camera_points_edit as edit
from hub.core.areas import area_names, config_area_names
from hub.core.camera_points import (
    OWNER_LABELS,
    PURPOSE_LABELS,
    CameraDetails,
    CameraPoint,
    PointFields,
    SpeakerLocation,
    problems_of,
    typed_position,
)
from hub.core.db import Camera
from hub.core.geo import Village
from hub.core.speaker_models import Speaker
from hub.web.access import Perm, principal, requires
from hub.web.admin.common import FormError, admin_page, field, known_communes, refuse, see_other
from hub.web.context import ctx
from hub.web.errors import not_found
from hub.web.params import SLUG_PATTERN

LIST_LIMIT = 1000
_TEXT = ("name", "address", "village", "lat", "lon")


def _form_values(form: MultiDictProxy[Any], names: tuple[str, ...]) -> dict[str, str | None]:
    values = {n: field(form, n, n, max_len=300, required=False) or None for n in names}
    if "lat" in values:
        values["lat"], values["lon"] = typed_position(values["lat"], values["lon"])
    return values


def _validated(model: Any, values: dict[str, Any]) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise FormError("; ".join(problems_of(exc))) from None


async def _points_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    c = ctx(request)
    area = request.query.get("area", "")
    district, _, commune = area.partition("/")

    def load(s: Session) -> tuple[list[CameraPoint], dict[str, int], dict[tuple[str, str], str]]:
        stmt = select(CameraPoint).order_by(CameraPoint.key).limit(LIST_LIMIT)
        if district:
            stmt = stmt.where(CameraPoint.district == district)
        if commune:
            stmt = stmt.where(CameraPoint.commune == commune)
        return list(s.scalars(stmt)), edit.point_counts(s), area_names(s, c.config)

    points, counts, names = await c.db.run(load)
    return admin_page(
        request, "admin_points.html", status=status, error=error, points=points, counts=counts,
        communes=[{"value": f"{d}/{cm}", "label": n} for (d, cm), n in sorted(names.items()) if cm],
        names={f"{d}/{cm}": n for (d, cm), n in names.items()}, area=area, point=None,
    )  # fmt: skip


@requires(Perm.MANAGE_DEVICES)
async def points_page(request: web.Request) -> web.StreamResponse:
    return await _points_page(request)


def _parts(request: web.Request) -> tuple[str, str, str]:
    m = request.match_info
    return m["district"], m["commune"], m["id"]


async def _point_page(request: web.Request, status: int = 200, error: str | None = None) -> web.Response:
    c = ctx(request)
    d, co, slug = _parts(request)

    def load(s: Session) -> tuple[CameraPoint | None, list[str], list[Village], dict[tuple[str, str], str]]:
        villages = list(s.scalars(select(Village).where(Village.district == d, Village.commune == co)))
        return (
            s.get(CameraPoint, f"{d}/{co}/{slug}"),
            edit.cameras_at(s, d, co, slug),
            villages,
            area_names(s, c.config),
        )

    pt, cams, villages, names = await c.db.run(load)
    if pt is None:
        raise not_found(f"Không có điểm camera {d}/{co}/{slug}")
    return admin_page(
        request, "admin_point.html", status=status, error=error, point=pt, cameras=cams, villages=villages,
        commune_name=names.get((d, co), co),
    )  # fmt: skip


@requires(Perm.MANAGE_DEVICES)
async def point_page(request: web.Request) -> web.StreamResponse:
    return await _point_page(request)


async def _save(request: web.Request, d: str, co: str, slug: str, again: Any) -> web.Response:
    c, p = ctx(request), principal(request)
    form = await request.post()
    try:
        fields = _validated(PointFields, _form_values(form, _TEXT))
    except FormError as exc:
        return await refuse(request, "point", str(exc), again)
    communes = {k for k in config_area_names(c.config) if k[1]}
    now = c.clock()
    _, refusal = await c.db.run(
        lambda s: edit.save_point(s, d, co, slug, fields, actor=p.username, now=now, config_communes=communes)
    )
    if refusal is not None:
        return await refuse(request, "point", refusal.message, again)
    return see_other(f"/admin/points/{d}/{co}/{slug}?msg=point_saved")


@requires(Perm.MANAGE_DEVICES)
async def create_point(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    area = str(form.get("area", ""))
    slug = str(form.get("id", "")).strip()
    d, _, co = area.partition("/")
    if not all(re.fullmatch(SLUG_PATTERN, x) for x in (d, co, slug)):
        return await refuse(
            request, "point", "Hãy chọn xã và nhập mã điểm (chữ thường không dấu, số, - hoặc _)", _points_page
        )
    names = await ctx(request).db.run(lambda s: area_names(s, ctx(request).config))
    if (d, co) not in known_communes(names):
        return await refuse(request, "point", f"Xã {area!r} chưa có trong danh mục địa bàn", _points_page)
    return await _save(request, d, co, slug, _points_page)


@requires(Perm.MANAGE_DEVICES)
async def save_point(request: web.Request) -> web.StreamResponse:
    return await _save(request, *_parts(request), _point_page)


@requires(Perm.MANAGE_DEVICES)
async def remove_point(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    d, co, slug = _parts(request)
    now = c.clock()
    # A person removing a point from its page has seen its cameras listed: they keep no point afterwards.
    await c.db.run(lambda s: edit.delete_point(s, d, co, slug, actor=p.username, now=now, detach=True))
    return see_other("/admin/points?msg=point_removed")


async def _device_again(request: web.Request, status: int, error: str | None) -> web.Response:
    from hub.web.admin import devices  # it imports device_extras from here

    return await devices._device_page(request, status, error)


@requires(Perm.MANAGE_DEVICES)
async def save_camera_details(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    d, co, slug = _parts(request)
    form = await request.post()
    try:
        details = _validated(CameraDetails, _form_values(form, tuple(CameraDetails.model_fields)))
    except FormError as exc:
        return await refuse(request, "camera_details", str(exc), _device_again)
    now = c.clock()

    def save(s: Session) -> edit.Refusal | None:
        cam = s.get(Camera, f"{d}/{co}/{slug}")
        if cam is None:
            raise not_found(f"Không có camera {d}/{co}/{slug}")
        return edit.save_details(s, cam, details, actor=p.username, now=now)[1]

    refusal = await c.db.run(save)
    if refusal is not None:
        return await refuse(request, "camera_details", refusal.message, _device_again)
    return see_other(f"/admin/devices/cameras/{d}/{co}/{slug}?msg=device_saved")


@requires(Perm.MANAGE_DEVICES)
async def save_speaker_location(request: web.Request) -> web.StreamResponse:
    c, p = ctx(request), principal(request)
    d, co, slug = _parts(request)
    form = await request.post()
    try:
        loc = _validated(SpeakerLocation, _form_values(form, ("lat", "lon")))
    except FormError as exc:
        return await refuse(request, "speaker_location", str(exc), _device_again)
    now = c.clock()

    def save(s: Session) -> None:
        sp = s.get(Speaker, f"{d}/{co}/{slug}")
        if sp is None:
            raise not_found(f"Không có loa {d}/{co}/{slug}")
        edit.save_location(s, sp, loc, actor=p.username, now=now)

    await c.db.run(save)
    return see_other(f"/admin/devices/speakers/{d}/{co}/{slug}?msg=device_saved")


def device_extras(s: Session, kind: str, district: str, commune: str) -> dict[str, Any]:
    """What the device page's point/position card needs: the commune's points and the labels."""
    if kind != "cameras":
        return {}
    pts = s.scalars(
        select(CameraPoint)
        .where(CameraPoint.district == district, CameraPoint.commune == commune)
        .order_by(CameraPoint.slug)
    )
    return {
        "points": [{"slug": pt.slug, "name": pt.name} for pt in pts],
        "purpose_labels": {str(k): v for k, v in PURPOSE_LABELS.items()},
        "owner_labels": {str(k): v for k, v in OWNER_LABELS.items()},
    }


def add_routes(app: web.Application) -> None:
    path = f"/admin/points/{{district:{SLUG_PATTERN}}}/{{commune:{SLUG_PATTERN}}}/{{id:{SLUG_PATTERN}}}"
    dev = f"{{district:{SLUG_PATTERN}}}/{{commune:{SLUG_PATTERN}}}/{{id:{SLUG_PATTERN}}}"
    app.router.add_get("/admin/points", points_page)
    app.router.add_post("/admin/points", create_point)
    app.router.add_get(path, point_page)
    app.router.add_post(path, save_point)
    app.router.add_post(path + "/remove", remove_point)
    app.router.add_post(f"/admin/devices/{{kind:cameras}}/{dev}/details", save_camera_details)
    app.router.add_post(f"/admin/devices/{{kind:speakers}}/{dev}/location", save_speaker_location)
