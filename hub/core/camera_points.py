"""Camera points (điểm camera): a place with coordinates that holds one or more cameras, and what each camera
is for, who paid for it and who maintains it.

A point belongs to a commune the way every device does today (district, commune slugs) and is keyed like them
(`district/commune/point`). A camera names its point by the point's own slug (same commune). The validation
models here are the one rule for the API bodies, the admin forms and the CSV import.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.core.db import Base

# Vietnam's bounding box, mainland and islands (Hoàng Sa, Trường Sa): a point outside it is a typo (swapped
# latitude and longitude, a missing minus sign, degrees-minutes pasted as decimals), never a real camera.
LAT_MIN, LAT_MAX = 8.0, 23.5
LON_MIN, LON_MAX = 102.0, 117.5


class Purpose(StrEnum):
    SECURITY = "security"  # an ninh trật tự
    TRAFFIC = "traffic"  # giao thông
    OTHER = "other"


class OwnerKind(StrEnum):
    COMMUNE = "commune"  # ngân sách xã
    HOUSEHOLD = "household"  # hộ gia đình (many cameras are paid for by residents)
    BUSINESS = "business"  # doanh nghiệp, cửa hàng
    OTHER = "other"


PURPOSE_LABELS = {
    Purpose.SECURITY: "An ninh trật tự",
    Purpose.TRAFFIC: "Giao thông",
    Purpose.OTHER: "Khác",
}
OWNER_LABELS = {
    OwnerKind.COMMUNE: "Ngân sách xã",
    OwnerKind.HOUSEHOLD: "Hộ gia đình",
    OwnerKind.BUSINESS: "Doanh nghiệp",
    OwnerKind.OTHER: "Khác",
}


class CameraPoint(Base):
    __tablename__ = "camera_points"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # district/commune/point
    district: Mapped[str] = mapped_column(String(64))
    commune: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    village: Mapped[str | None] = mapped_column(String(64))  # hub/core/geo.py Village slug, same commune

    __table_args__ = (Index("ix_camera_points_area", "district", "commune"),)


_PHONE = re.compile(r"^(\+84|0)[0-9]{8,10}$")
_SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Name = Annotated[str, Field(min_length=1, max_length=200)]
Lat = Annotated[float, Field(ge=LAT_MIN, le=LAT_MAX, description="Latitude, degrees (WGS 84), in Vietnam")]
Lon = Annotated[float, Field(ge=LON_MIN, le=LON_MAX, description="Longitude, degrees (WGS 84), in Vietnam")]


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    if any(ord(ch) < 32 for ch in value):
        raise ValueError("không được chứa ký tự điều khiển")
    text = " ".join(value.split())
    return text or None


class PointFields(BaseModel):
    """A camera point as written by a person (API body, admin form, CSV row)."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    lat: Lat
    lon: Lon
    address: Annotated[str, Field(max_length=300)] | None = None
    village: Annotated[str, Field(pattern=_SLUG)] | None = None

    _names = field_validator("name", "address", mode="before")(
        lambda v: _clean(v) if isinstance(v, str) else v
    )


class CameraDetails(BaseModel):
    """A camera's point, purpose, owner and maintainer; every field may be left empty."""

    model_config = ConfigDict(extra="forbid")
    point: (
        Annotated[str, Field(pattern=_SLUG, description="Slug of a point of the camera's commune")] | None
    ) = None
    purpose: Purpose | None = None
    owner_kind: OwnerKind | None = None
    owner_name: Annotated[str, Field(max_length=200, description="Who paid: household, shop…")] | None = None
    maintainer_name: Annotated[str, Field(max_length=200)] | None = None
    maintainer_phone: (
        Annotated[
            str, Field(max_length=20, description="Vietnamese number: 0… or +84…, spaces and dots allowed")
        ]
        | None
    ) = None

    _texts = field_validator("owner_name", "maintainer_name", mode="before")(
        lambda v: _clean(v) if isinstance(v, str) else v
    )

    @field_validator("maintainer_phone", mode="before")
    @classmethod
    def _phone(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        digits = re.sub(r"[\s.\-()]", "", v)
        if not digits:
            return None
        if not _PHONE.match(digits):
            raise ValueError("số điện thoại không hợp lệ (0… hoặc +84…, 9–11 chữ số)")
        # One spelling per number (and no leading '+', which a spreadsheet would read as a formula).
        return "0" + digits[3:] if digits.startswith("+84") else digits


class SpeakerLocation(BaseModel):
    """A loudspeaker's optional position: both or neither."""

    model_config = ConfigDict(extra="forbid")
    lat: Lat | None = None
    lon: Lon | None = None

    @model_validator(mode="after")
    def _both(self) -> SpeakerLocation:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("cần cả vĩ độ (lat) và kinh độ (lon), hoặc bỏ trống cả hai")
        return self


_DECIMAL_COMMA = re.compile(r"^\s*(-?\d+),(\d+)\s*$")
_PAIR = re.compile(r"^\s*(-?\d+[.,]\d+)\s*[,;\s]\s*(-?\d+[.,]\d+)\s*$")


def typed_position(lat: str | None, lon: str | None) -> tuple[str | None, str | None]:
    """A position as people type it into a form: a decimal comma (Vietnamese spreadsheets) becomes a dot, and
    a pair pasted whole into the latitude box ("19.9872, 105.6114", as a phone's map copies it) is split."""
    if lat and not lon:
        pair = _PAIR.match(lat)
        if pair:
            lat, lon = pair.group(1), pair.group(2)

    def dot(v: str | None) -> str | None:
        m = _DECIMAL_COMMA.match(v) if v else None
        return f"{m.group(1)}.{m.group(2)}" if m else v

    return dot(lat), dot(lon)


def problems_of(exc: ValidationError) -> list[str]:
    """Each error of a validation as 'field: reason', for line-numbered CSV errors and form refusals."""
    out = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e["loc"]) or "?"
        msg = str(e["msg"]).removeprefix("Value error, ")
        out.append(f"{where}: {msg}")
    return out


def point_record(pt: CameraPoint) -> dict[str, Any]:
    return {
        "district": pt.district,
        "commune": pt.commune,
        "id": pt.slug,
        "name": pt.name,
        "lat": pt.lat,
        "lon": pt.lon,
        "address": pt.address,
        "village": pt.village,
    }


DETAIL_FIELDS = tuple(CameraDetails.model_fields)


def details_of(cam: Any) -> dict[str, Any]:
    """A camera row's detail fields (values as stored: enum values are plain strings)."""
    return {f: getattr(cam, f) for f in DETAIL_FIELDS}


def camera_place(s: Session, cam: Any) -> dict[str, Any] | None:
    """What the camera page says of where a camera hangs and whom to call: its point (name, address, position),
    purpose, owner and maintainer, in words; None when none of it is known."""
    details = details_of(cam)
    if not any(details.values()):
        return None
    pt = s.get(CameraPoint, f"{cam.district}/{cam.commune}/{cam.point}") if cam.point else None
    return {
        "point": None
        if pt is None
        else {"name": pt.name, "address": pt.address, "lat": pt.lat, "lon": pt.lon},
        "purpose": PURPOSE_LABELS.get(Purpose(cam.purpose)) if cam.purpose in set(Purpose) else cam.purpose,
        "owner": OWNER_LABELS.get(OwnerKind(cam.owner_kind))
        if cam.owner_kind in set(OwnerKind)
        else cam.owner_kind,
        "owner_name": cam.owner_name,
        "maintainer_name": cam.maintainer_name,
        "maintainer_phone": cam.maintainer_phone,
    }
