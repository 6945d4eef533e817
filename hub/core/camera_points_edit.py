"""Writing camera points, camera details and speaker positions: the one place the API and the admin forms go
through, so both refuse the same references and both leave the same audit entries.

Each function runs inside the caller's transaction and returns either the saved record or a refusal: a
`Refusal` names the field and says why in Vietnamese (the API answers 422 or 409, the form shows it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.core.audit import record_change
from hub.core.camera_points import (
    CameraDetails,
    CameraPoint,
    PointFields,
    SpeakerLocation,
    details_of,
    point_record,
)
from hub.core.db import Area, Camera
from hub.core.geo import Village
from hub.core.speaker_models import Speaker


@dataclass(frozen=True)
class Refusal:
    field: str
    message: str
    conflict: bool = False  # the request is fine but the registry's state forbids it (409)


def commune_known(s: Session, district: str, commune: str, config_communes: set[tuple[str, str]]) -> bool:
    if (district, commune) in config_communes:
        return True
    return s.get(Area, (district, commune)) is not None


def save_point(
    s: Session,
    district: str,
    commune: str,
    slug: str,
    fields: PointFields,
    *,
    actor: str,
    now: datetime,
    config_communes: set[tuple[str, str]],
) -> tuple[dict[str, Any] | None, Refusal | None]:
    """Creates or updates the point `district/commune/slug`."""
    if not commune_known(s, district, commune, config_communes):
        return None, Refusal("commune", f"xã {district}/{commune} chưa có trong danh mục địa bàn")
    if fields.village is not None and s.get(Village, (district, commune, fields.village)) is None:
        return None, Refusal("village", f"thôn {fields.village!r} chưa có trong xã {district}/{commune}")
    key = f"{district}/{commune}/{slug}"
    pt = s.get(CameraPoint, key)
    before = point_record(pt) if pt is not None else None
    if pt is None:
        pt = CameraPoint(key=key, district=district, commune=commune, slug=slug)
        s.add(pt)
    for name, value in fields.model_dump().items():
        setattr(pt, name, value)
    after = point_record(pt)
    if after != before:
        record_change(
            s, actor=actor, action="point.create" if before is None else "point.update", target=f"point:{key}",
            now=now, before=before, after=after, district=district, commune=commune,
        )  # fmt: skip
    return after, None


def cameras_at(s: Session, district: str, commune: str, slug: str) -> list[str]:
    stmt = select(Camera.slug).where(
        Camera.district == district, Camera.commune == commune, Camera.point == slug
    )
    return list(s.scalars(stmt.order_by(Camera.slug)))


def delete_point(
    s: Session, district: str, commune: str, slug: str, *, actor: str, now: datetime, detach: bool = False
) -> tuple[dict[str, Any] | None, Refusal | None]:
    """Removes a point; one that still holds cameras is refused unless `detach` (its cameras keep no point)."""
    key = f"{district}/{commune}/{slug}"
    pt = s.get(CameraPoint, key)
    if pt is None:
        return None, None
    held = cameras_at(s, district, commune, slug)
    if held and not detach:
        return None, Refusal(
            "point", f"điểm còn {len(held)} camera ({', '.join(held[:5])}); hãy chuyển camera trước", True
        )
    if held:
        s.execute(
            update(Camera)
            .where(Camera.district == district, Camera.commune == commune, Camera.point == slug)
            .values(point=None)
        )
    record_change(
        s, actor=actor, action="point.remove", target=f"point:{key}", now=now, before=point_record(pt),
        district=district, commune=commune,
    )  # fmt: skip
    before = point_record(pt)
    s.delete(pt)
    return before, None


def save_details(
    s: Session, cam: Camera, details: CameraDetails, *, actor: str, now: datetime
) -> tuple[dict[str, Any] | None, Refusal | None]:
    if (
        details.point is not None
        and s.get(CameraPoint, f"{cam.district}/{cam.commune}/{details.point}") is None
    ):
        return None, Refusal(
            "point", f"điểm camera {details.point!r} chưa có trong xã {cam.district}/{cam.commune}"
        )
    before = details_of(cam)
    for name, value in details.model_dump().items():
        setattr(cam, name, None if value is None else str(value))
    after = details_of(cam)
    if after != before:
        record_change(
            s, actor=actor, action="camera.details", target=f"camera:{cam.key}", now=now, before=before,
            after=after, district=cam.district, commune=cam.commune,
        )  # fmt: skip
    return after, None


def save_location(
    s: Session, sp: Speaker, loc: SpeakerLocation, *, actor: str, now: datetime
) -> dict[str, Any]:
    before = {"lat": sp.lat, "lon": sp.lon}
    sp.lat, sp.lon = loc.lat, loc.lon
    after = {"lat": sp.lat, "lon": sp.lon}
    if after != before:
        record_change(
            s, actor=actor, action="speaker.location", target=f"speaker:{sp.key}", now=now, before=before,
            after=after, district=sp.district, commune=sp.commune,
        )  # fmt: skip
    return after


def point_counts(s: Session) -> dict[str, int]:
    """Cameras per point key (for lists)."""
    stmt = (
        select(Camera.district, Camera.commune, Camera.point, func.count())
        .where(Camera.point.is_not(None))
        .group_by(Camera.district, Camera.commune, Camera.point)
    )
    return {f"{d}/{c}/{p}": n for d, c, p, n in s.execute(stmt)}
