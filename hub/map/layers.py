"""What the map draws, read in one go: camera points with their cameras, speakers that have a position, and
where each commune's name goes (the middle of its positioned points and speakers), all in the caller's scope.

A camera is on the map through its point (a camera without one has no position). The status of each camera
and speaker travels as is; the page colours a point by its worst camera and keeps the colours live from the
event stream.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.access import scope_where
from hub.core.auth import Principal
from hub.core.camera_points import CameraPoint
from hub.core.db import Camera
from hub.core.speaker_models import Speaker

AreaNames = dict[tuple[str, str], str]


def _points(s: Session, p: Principal) -> list[dict[str, Any]]:
    pts = list(
        s.scalars(select(CameraPoint).where(scope_where(p, CameraPoint.district, CameraPoint.commune)))
    )
    by_key: dict[str, dict[str, Any]] = {pt.key: {"key": pt.key, "district": pt.district, "commune": pt.commune, "id": pt.slug,
                       "name": pt.name, "lat": pt.lat, "lon": pt.lon, "address": pt.address, "cameras": []}
              for pt in pts}  # fmt: skip
    cols = (Camera.key, Camera.district, Camera.commune, Camera.slug, Camera.name, Camera.status, Camera.point,
            Camera.purpose, Camera.owner_kind, Camera.owner_name)  # fmt: skip
    stmt = select(*cols).where(scope_where(p, Camera.district, Camera.commune), Camera.point.is_not(None))
    for key, d, c, slug, name, status, point, purpose, owner_kind, owner_name in s.execute(
        stmt.order_by(Camera.key)
    ):
        pt = by_key.get(f"{d}/{c}/{point}")
        if pt is not None:
            pt["cameras"].append({"key": key, "id": slug, "name": name or slug, "status": status,
                                  "purpose": purpose, "owner_kind": owner_kind, "owner_name": owner_name})  # fmt: skip
    return sorted(by_key.values(), key=lambda x: x["key"])


def _speakers(s: Session, p: Principal) -> list[dict[str, Any]]:
    stmt = select(Speaker).where(
        scope_where(p, Speaker.district, Speaker.commune),
        Speaker.lat.is_not(None),
        Speaker.lon.is_not(None),
        Speaker.pending.is_(False),
    )
    return [
        {
            "key": sp.key,
            "district": sp.district,
            "commune": sp.commune,
            "id": sp.slug,
            "name": sp.name or sp.slug,
            "lat": sp.lat,
            "lon": sp.lon,
            "status": sp.status,
        }  # fmt: skip
        for sp in s.scalars(stmt.order_by(Speaker.key))
    ]


def commune_labels(items: list[dict[str, Any]], names: AreaNames) -> list[dict[str, Any]]:
    """One label per commune at the mean position of what it has on the map (pure)."""
    sums: dict[tuple[str, str], list[float]] = {}
    for it in items:
        acc = sums.setdefault((it["district"], it["commune"]), [0.0, 0.0, 0.0])
        acc[0] += it["lat"]
        acc[1] += it["lon"]
        acc[2] += 1
    return [
        {"district": d, "commune": c, "name": names.get((d, c), c), "lat": la / n, "lon": lo / n}
        for (d, c), (la, lo, n) in sorted(sums.items())
    ]


def map_layers(
    s: Session, p: Principal, names: AreaNames, *, cameras: bool, speakers: bool
) -> dict[str, Any]:
    points = _points(s, p) if cameras else []
    sps = _speakers(s, p) if speakers else []
    return {"points": points, "speakers": sps, "communes": commune_labels([*points, *sps], names)}
