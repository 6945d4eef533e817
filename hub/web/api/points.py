"""/api/v1/points…: camera points (list, create or update, remove), a camera's details (point, purpose, owner,
maintainer) and a speaker's position. Bodies are checked against the document first; references to things that
do not exist (commune, village, point) are refused here with 422, a point that still holds cameras with 409.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import camera_points_edit as edit
from hub.core.access import scope_where
from hub.core.areas import config_area_names
from hub.core.camera_points import (
    CameraDetails,
    CameraPoint,
    PointFields,
    SpeakerLocation,
    details_of,
    point_record,
    problems_of,
)
from hub.core.openapi import ApiRoute, Param, json_body, model_schema
from hub.core.speaker_models import Speaker
from hub.web import params
from hub.web.access import Perm, in_scope, principal, requires
from hub.web.api.cameras import CAMERA_PARAMS, CAMERA_PATH, _camera_or_404
from hub.web.context import ctx
from hub.web.errors import ApiError, not_found, unprocessable
from hub.web.jsonout import json_response

M = TypeVar("M", bound=BaseModel)
SLUG = params.SLUG_PATTERN
POINT_PATH = f"/points/{{district:{SLUG}}}/{{commune:{SLUG}}}/{{point:{SLUG}}}"
SPEAKER_PATH = f"/speakers/{{district:{SLUG}}}/{{commune:{SLUG}}}/{{speaker:{SLUG}}}/location"


async def body_as(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(await request.json())
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "body"
        ctx(request).count("api_rejected_points")
        raise unprocessable(field, "; ".join(problems_of(exc))) from None


def _point_dict(pt: CameraPoint, cameras: list[str]) -> dict[str, Any]:
    return {"key": pt.key, **point_record(pt), "cameras": cameras}


@requires(Perm.VIEW_CAMERAS)
async def list_points(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    district, commune = params.slug(request, "district"), params.slug(request, "commune")

    def load(s: Session) -> list[dict[str, Any]]:
        stmt = select(CameraPoint).where(scope_where(p, CameraPoint.district, CameraPoint.commune))
        if district:
            stmt = stmt.where(CameraPoint.district == district)
        if commune:
            stmt = stmt.where(CameraPoint.commune == commune)
        pts = list(s.scalars(stmt.order_by(CameraPoint.key)))
        return [_point_dict(pt, edit.cameras_at(s, pt.district, pt.commune, pt.slug)) for pt in pts]

    return json_response({"items": await c.db.run(load)})


def _point_parts(request: web.Request) -> tuple[str, str, str]:
    m = request.match_info
    return m["district"], m["commune"], m["point"]


@requires(Perm.MANAGE_DEVICES)
async def put_point(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    d, co, slug = _point_parts(request)
    fields = await body_as(request, PointFields)
    communes = {k for k in config_area_names(c.config) if k[1]}
    now = c.clock()
    saved, refusal = await c.db.run(
        lambda s: edit.save_point(s, d, co, slug, fields, actor=p.username, now=now, config_communes=communes)
    )
    if refusal is not None:
        raise unprocessable(refusal.field, refusal.message)
    assert saved is not None
    return json_response({"key": f"{d}/{co}/{slug}", **saved})


@requires(Perm.MANAGE_DEVICES)
async def delete_point(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    d, co, slug = _point_parts(request)
    now = c.clock()
    removed, refusal = await c.db.run(lambda s: edit.delete_point(s, d, co, slug, actor=p.username, now=now))
    if refusal is not None:
        raise ApiError(409, "point_in_use", refusal.message, field=refusal.field)
    if removed is None:
        raise not_found(f"Không có điểm camera {d}/{co}/{slug}")
    return json_response({"key": f"{d}/{co}/{slug}", **removed, "cameras": []})


@requires(Perm.VIEW_CAMERAS)
async def get_details(request: web.Request) -> web.Response:
    return json_response(details_of(await _camera_or_404(request)))


@requires(Perm.MANAGE_DEVICES)
async def put_details(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    cam = await _camera_or_404(request)
    details = await body_as(request, CameraDetails)
    now = c.clock()

    def save(s: Session) -> tuple[dict[str, Any] | None, edit.Refusal | None]:
        return edit.save_details(s, s.merge(cam), details, actor=p.username, now=now)

    saved, refusal = await c.db.run(save)
    if refusal is not None:
        raise unprocessable(refusal.field, refusal.message)
    return json_response(saved)


@requires(Perm.MANAGE_DEVICES)
async def put_location(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    m = request.match_info
    key = f"{m['district']}/{m['commune']}/{m['speaker']}"
    loc = await body_as(request, SpeakerLocation)
    now = c.clock()

    def save(s: Session) -> dict[str, Any] | None:
        sp = s.get(Speaker, key)
        if sp is None or not in_scope(p, sp.district, sp.commune):
            return None
        return edit.save_location(s, sp, loc, actor=p.username, now=now)

    saved = await c.db.run(save)
    if saved is None:
        raise not_found(f"Không có loa {key}")
    return json_response(saved)


_N = {"type": "number"}
_S = {"type": ["string", "null"]}
POINT = {
    "type": "object",
    "required": ["key", "district", "commune", "id", "name", "lat", "lon", "address", "village"],
    "properties": {
        "key": {"type": "string"}, "district": {"type": "string"}, "commune": {"type": "string"},
        "id": {"type": "string"}, "name": {"type": "string"}, "lat": _N, "lon": _N, "address": _S, "village": _S,
        "cameras": {"type": "array", "items": {"type": "string"}, "description": "Slugs of its cameras"},
    },
}  # fmt: skip
DETAILS = {
    "type": "object",
    "required": list(CameraDetails.model_fields),
    "properties": dict.fromkeys(CameraDetails.model_fields, _S),
}
_NN = {"type": ["number", "null"]}
LOCATION = {"type": "object", "required": ["lat", "lon"], "properties": {"lat": _NN, "lon": _NN}}
POINT_PARAMS = tuple(
    Param(n, f"{n.capitalize()} slug", params.SLUG, where="path", example=ex)
    for n, ex in (("district", "yen-dinh"), ("commune", "quan-lao"), ("point", "cho-quan-lao"))
)
SPEAKER_PARAMS = tuple(
    Param(n, f"{n.capitalize()} slug", params.SLUG, where="path", example=ex)
    for n, ex in (("district", "yen-dinh"), ("commune", "quan-lao"), ("speaker", "loa-1"))
)

ROUTES = [
    ApiRoute(
        "GET",
        "/points",
        list_points,
        "Camera points in the caller's scope, with the slugs of their cameras",
        (
            Param("district", "Only this district (slug)", params.SLUG),
            Param("commune", "Only this commune (slug)", params.SLUG),
        ),
        {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": POINT}}},
    ),
    ApiRoute(
        "PUT",
        POINT_PATH,
        put_point,
        "Create or update a camera point; 422 when the commune or village is unknown or a value is refused",
        POINT_PARAMS,
        POINT,
        errors=(400, 401, 403, 404, 415, 422),
        body=json_body(
            model_schema(PointFields), "Name, WGS 84 position inside Vietnam, address, village slug"
        ),
    ),
    ApiRoute(
        "DELETE",
        POINT_PATH,
        delete_point,
        "Remove a camera point (answers what it was); 409 while cameras still name it",
        POINT_PARAMS,
        POINT,
        errors=(400, 401, 403, 404, 409),
    ),
    ApiRoute(
        "GET",
        CAMERA_PATH + "/details",
        get_details,
        "A camera's point, purpose, owner and maintainer",
        CAMERA_PARAMS,
        DETAILS,
        errors=(400, 401, 403, 404),
    ),
    ApiRoute(
        "PUT",
        CAMERA_PATH + "/details",
        put_details,
        "Set a camera's point, purpose, owner and maintainer (every field; null clears it)",
        CAMERA_PARAMS,
        DETAILS,
        errors=(400, 401, 403, 404, 415, 422),
        body=json_body(
            model_schema(CameraDetails),
            "purpose: security/traffic/other; owner_kind: commune/household/business/other",
        ),
    ),
    ApiRoute(
        "PUT",
        SPEAKER_PATH,
        put_location,
        "Set or clear a speaker's position (both lat and lon, or neither)",
        SPEAKER_PARAMS,
        LOCATION,
        errors=(400, 401, 403, 404, 415, 422),
        body=json_body(model_schema(SpeakerLocation), "lat and lon inside Vietnam, or both null"),
    ),
]
