"""A bulletin as the province sends it (validated, unknown keys refused), its TT39 level mapped to the hub's
priority, and landing it: one content row and one programme per target commune, submitted for approval.
Session functions run inside `Database.run`; `now` is naive UTC."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.bulletins.models import Bulletin
from broadcast.content.models import BroadcastContent
from broadcast.orders import Priority
from broadcast.programmes.input import ProgrammeInput
from broadcast.programmes.models import TARGET_COMMUNE
from broadcast.programmes.save import save_programme
from broadcast.programmes.schedule import Schedule
from hub.core.audit import record_change
from hub.core.serialize import iso

AREA_PATTERN = "^[a-z0-9][a-z0-9_-]{0,63}/[a-z0-9][a-z0-9_-]{0,63}$"
LEVEL_PRIORITY = {1: Priority.NORMAL, 2: Priority.PRIORITY, 3: Priority.EMERGENCY}
START_MARGIN = timedelta(minutes=2)  # time for an approver to see it: never scheduled in the past


Area = Annotated[str, StringConstraints(pattern=AREA_PATTERN)]


class BulletinRefused(ValueError):
    """Well-formed but refused on meaning (the API answers 422 naming `field`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_meaning(b: BulletinIn, now: datetime) -> None:
    """`now` naive UTC."""
    if b.valid_until <= b.valid_from:
        raise BulletinRefused("valid_until", "phải sau valid_from")
    if b.valid_until.astimezone(UTC).replace(tzinfo=None) <= now:
        raise BulletinRefused("valid_until", "bản tin đã hết hiệu lực")


class BulletinIn(BaseModel):
    """The `bulletin` JSON part (API) or the .json file (watched folder)."""

    model_config = ConfigDict(extra="forbid")

    upstream_id: str = Field(
        min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="the sender's id: a resend with the same id gets the same receipt",
    )  # fmt: skip
    title: str = Field(min_length=1, max_length=200)
    level: int = Field(ge=1, le=3, description="TT39: 1 thông thường, 2 ưu tiên, 3 khẩn cấp")
    text: str | None = Field(default=None, max_length=20_000, description="read out (TTS) when no audio")
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    communes: list[Area] = Field(min_length=1, max_length=200, description="targets, 'district/commune'")

    @field_validator("communes")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a commune is listed twice")
        return v

    @property
    def priority(self) -> Priority:
        return LEVEL_PRIORITY[self.level]

    @property
    def areas(self) -> list[tuple[str, str]]:
        return [(a.split("/", 1)[0], a.split("/", 1)[1]) for a in self.communes]


BULLETIN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["upstream_id", "title", "level", "valid_from", "valid_until", "communes"],
    "properties": {
        "upstream_id": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]*$"},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "level": {"enum": [1, 2, 3], "description": "TT39: 1 thông thường, 2 ưu tiên, 3 khẩn cấp"},
        "text": {"type": ["string", "null"], "maxLength": 20000},
        "valid_from": {"type": "string", "format": "date-time"},
        "valid_until": {"type": "string", "format": "date-time"},
        "communes": {"type": "array", "minItems": 1, "maxItems": 200, "uniqueItems": True, "items": {"type": "string", "pattern": AREA_PATTERN}},
    },
}  # fmt: skip


def receipt(b: Bulletin, duplicate: bool) -> dict[str, Any]:
    return {
        "bulletin_id": b.id,
        "upstream_id": b.upstream_id,
        "received_at": iso(b.received_at),
        "level": b.level,
        "programmes": b.programmes,
        "duplicate": duplicate,
    }


def find(s: Session, upstream_id: str) -> Bulletin | None:
    return s.scalars(select(Bulletin).where(Bulletin.upstream_id == upstream_id)).first()


def start_schedule(valid_from: datetime, now: datetime, tz: ZoneInfo) -> Schedule:
    """Once, at the start of validity, or a little after now when that has passed (whole local minutes)."""
    start = max(valid_from.astimezone(UTC).replace(tzinfo=None), now + START_MARGIN)
    minute = datetime.fromtimestamp(math.ceil(start.replace(tzinfo=UTC).timestamp() / 60) * 60, UTC)
    local = minute.astimezone(tz)
    return Schedule("once", (local.time().replace(second=0, microsecond=0),), local.date())


def land(
    s: Session,
    b: BulletinIn,
    first_content_id: int,
    channel: str,
    actor: str,
    now: datetime,
    tz: ZoneInfo,
    horizon_days: int,
) -> Bulletin:
    """Programmes (submitted for approval) for every target commune, the content copied per commune (same
    media), and the bulletin row with its receipt; all in the caller's transaction."""
    first = s.get(BroadcastContent, first_content_id)
    assert first is not None
    schedule = start_schedule(b.valid_from, now, tz)
    until_local = b.valid_until.astimezone(tz).strftime("%H:%M %d/%m/%Y")
    note = f"Bản tin từ hệ thống thông tin nguồn tỉnh ({b.upstream_id}), hiệu lực đến {until_local}"
    landed: list[dict[str, Any]] = []
    for district, commune in b.areas:
        content = first
        if (district, commune) != (first.district, first.commune):
            content = BroadcastContent(
                **{k: getattr(first, k) for k in (
                    "title", "source", "text", "original_name", "original_path", "path", "sha256", "size",
                    "duration_s", "loudness_lufs", "true_peak_dbtp",
                )},
                district=district, commune=commune, created_by=actor, created_at=now,
            )  # fmt: skip
            s.add(content)
            s.flush()
        inp = ProgrammeInput(
            district, commune, b.title, note, (content.id,), TARGET_COMMUNE, (), schedule, 1, 0.0, b.priority
        )
        # Conflicts are the approver's to settle when approving: a bulletin always lands.
        res = save_programme(s, inp, actor, now, tz, horizon_days, submit=True, ignore_conflicts=True)
        assert res.programme is not None
        landed.append(
            {"district": district, "commune": commune, "programme_id": res.programme.id,
             "content_id": content.id, "state": res.programme.state}
        )  # fmt: skip
    row = Bulletin(
        upstream_id=b.upstream_id, channel=channel, submitted_by=actor, received_at=now, title=b.title,
        level=b.level, text=b.text, valid_from=b.valid_from.astimezone(UTC).replace(tzinfo=None),
        valid_until=b.valid_until.astimezone(UTC).replace(tzinfo=None), communes=list(b.communes),
        programmes=landed,
    )  # fmt: skip
    s.add(row)
    s.flush()
    record_change(
        s, actor=actor, action="bulletin.receive", target=f"bulletin:{row.id}", now=now,
        after={"upstream_id": b.upstream_id, "level": b.level, "channel": channel, "programmes": landed},
    )  # fmt: skip
    return row
