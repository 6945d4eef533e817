"""The device CSV's columns beyond identity and name: cameras' point, purpose, owner and maintainer, speakers'
position, and the camera points themselves; and the export that writes the same columns back.

A column left out of the header keeps what the registry holds (an older file without these columns changes
none of them); a column present with an empty cell clears the field. The validation is camera_points.py's
models, so the CSV, the API and the admin forms refuse the same values with the same words.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.camera_points import (
    DETAIL_FIELDS,
    CameraDetails,
    CameraPoint,
    PointFields,
    SpeakerLocation,
    problems_of,
)
from hub.core.csvsafe import csv_bytes
from hub.core.db import Camera
from hub.core.speaker_models import Speaker

EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "cameras": DETAIL_FIELDS,
    "speakers": ("lat", "lon"),
    "points": ("lat", "lon", "address", "village"),
}
_ESCAPED = ("'=", "'+", "'-", "'@")


def unescape(cell: str) -> str:
    """Our exports put an apostrophe before a cell a spreadsheet would run as a formula (csvsafe.py); reading
    such a file back takes it off again, so export → import changes nothing."""
    return cell[1:] if cell.startswith(_ESCAPED) else cell


def parse_extra(
    kind: str,
    cells: dict[str, str],
    name: str,
    points: Collection[tuple[str, str, str]],
) -> tuple[dict[str, Any], list[str]]:
    """The row's extra fields (only the columns it has) validated, or the problems, each naming its column."""
    given = {k: (cells[k].strip() or None) for k in EXTRA_COLUMNS[kind] if k in cells}
    try:
        if kind == "cameras":
            details = CameraDetails.model_validate(given)
            values = details.model_dump(include=set(given))
            pt = values.get("point")
            if pt is not None and (cells["district"].strip(), cells["commune"].strip(), pt) not in points:
                return {}, [f"point {pt!r} chưa có trong xã (hãy nhập điểm camera trước)"]
        elif kind == "speakers":
            values = SpeakerLocation.model_validate(given).model_dump(include=set(given))
        else:
            values = PointFields.model_validate({**given, "name": name}).model_dump(exclude={"name"})
    except ValidationError as exc:
        return {}, problems_of(exc)
    return {
        k: (str(v) if k in ("purpose", "owner_kind") and v is not None else v) for k, v in values.items()
    }, []


def merged(kind: str, extra: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """What a row makes of the extra fields: its own columns, else what the registry held (None when new)."""
    return {k: extra[k] if k in extra else (before or {}).get(k) for k in EXTRA_COLUMNS[kind]}


# --- export --------------------------------------------------------------------------------------------------


def _slug_of(key: str | None) -> str:
    return key.rsplit("/", 1)[-1] if key else ""


def export_rows(
    s: Session, kind: str, columns: tuple[str, ...], district: str | None, commune: str | None
) -> Iterable[list[Any]]:
    """The registry as the import reads it: header first, rows sorted by key."""
    model: Any = {"cameras": Camera, "speakers": Speaker, "points": CameraPoint}[kind]
    stmt = select(model).order_by(model.district, model.commune, model.slug)
    if district:
        stmt = stmt.where(model.district == district)
    if commune:
        stmt = stmt.where(model.commune == commune)
    yield list(columns)
    for obj in s.scalars(stmt):
        if kind == "speakers" and obj.pending:
            continue  # a receiver nobody approved is not the registry's yet; importing it would approve it
        rec = {"district": obj.district, "commune": obj.commune, "id": obj.slug, "name": obj.name or obj.slug}
        if kind == "cameras":
            rec["agent"] = _slug_of(obj.agent_key)
        for col in columns:
            if col not in rec:
                rec[col] = getattr(obj, col)
        yield ["" if rec[c] is None else rec[c] for c in columns]


def export_csv(
    s: Session, kind: str, columns: tuple[str, ...], district: str | None, commune: str | None
) -> bytes:
    return csv_bytes(export_rows(s, kind, columns, district, commune))
