"""What the map draws: camera points with their cameras, speakers that have a position, and where each
commune's name goes (the middle of its positioned points and speakers), all in the caller's scope.

Two steps, so the SQL thread (shared with ingest) only reads rows: `fetch_rows` (SQL, plain Core rows) and
`shape` (pure: dictionaries for the JSON), which the API runs in a worker thread. A camera is on the map through
its point (a camera without one has no position). The status of each camera and speaker travels as is; the
page colours a point by its worst camera and keeps the colours live from the event stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.access import scope_where
from hub.core.auth import Principal
from hub.core.camera_points import CameraPoint
from hub.core.db import Camera
from hub.core.speaker_models import Speaker

AreaNames = dict[tuple[str, str], str]


@dataclass
class MapRows:
    # Core rows (tuples by position), in the column order of fetch_rows's selects
    points: list[Any] = field(default_factory=list)
    cameras: list[Any] = field(default_factory=list)
    speakers: list[Any] = field(default_factory=list)


def fetch_rows(s: Session, p: Principal, *, cameras: bool, speakers: bool) -> MapRows:
    out = MapRows()
    if cameras:
        pt = CameraPoint
        out.points = list(
            s.execute(
                select(pt.key, pt.district, pt.commune, pt.slug, pt.name, pt.lat, pt.lon, pt.address)
                .where(scope_where(p, pt.district, pt.commune))
                .order_by(pt.key)
            )
        )
        cols = (Camera.key, Camera.district, Camera.commune, Camera.slug, Camera.name, Camera.status,
                Camera.point, Camera.purpose, Camera.owner_kind, Camera.owner_name)  # fmt: skip
        stmt = select(*cols).where(scope_where(p, Camera.district, Camera.commune), Camera.point.is_not(None))
        out.cameras = list(s.execute(stmt.order_by(Camera.key)))
    if speakers:
        sp = Speaker
        sp_stmt = select(sp.key, sp.district, sp.commune, sp.slug, sp.name, sp.lat, sp.lon, sp.status).where(
            scope_where(p, sp.district, sp.commune),
            sp.lat.is_not(None),
            sp.lon.is_not(None),
            sp.pending.is_(False),
        )
        out.speakers = list(s.execute(sp_stmt.order_by(sp.key)))
    return out


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


def shape(rows: MapRows, names: AreaNames) -> dict[str, Any]:
    """The features API's body (pure)."""
    # By place, not key: a merged commune's points keep their keys (like its cameras) but live under the new
    # commune, where their cameras now name them.
    points: dict[tuple[str, str, str], dict[str, Any]] = {
        (d, c, slug): {"key": key, "district": d, "commune": c, "id": slug, "name": name, "lat": lat, "lon": lon,
              "address": address, "cameras": []}
        for key, d, c, slug, name, lat, lon, address in rows.points
    }  # fmt: skip
    for key, d, c, slug, name, status, point, purpose, owner_kind, owner_name in rows.cameras:
        pt = points.get((d, c, point))
        if pt is not None:
            pt["cameras"].append({"key": key, "id": slug, "name": name or slug, "status": status,
                                  "purpose": purpose, "owner_kind": owner_kind, "owner_name": owner_name})  # fmt: skip
    speakers = [
        {"key": key, "district": d, "commune": c, "id": slug, "name": name or slug, "lat": lat, "lon": lon,
         "status": status}
        for key, d, c, slug, name, lat, lon, status in rows.speakers
    ]  # fmt: skip
    pts = list(points.values())
    return {"points": pts, "speakers": speakers, "communes": commune_labels([*pts, *speakers], names)}
