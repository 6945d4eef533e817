"""Relay content: a content item of source `relay` that plays an allow-listed upstream for a fixed length.

It is content like a recording for everything around it: a programme lists it, and its length (`duration_s`)
gives the programme's end, so targets, priorities, approval and conflicts work as for recordings. It has no file:
`path`, `sha256` are empty and `size` 0. A programme that plays a relay plays only it (plan.play_items refuses a
relay mixed with other items, since a live stream and files cannot share one playlist on the receivers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from broadcast.content.models import BroadcastContent
from broadcast.relays.allowlist import UpstreamError, allowed_upstream
from contract.configfile import StrictModel
from hub.core.text import clean_text

RELAY = "relay"
MAX_RELAY_MIN = 240


class RelayContentInput(StrictModel):
    title: str = Field(min_length=1, max_length=200, description="e.g. 'Tiếp âm VOV1 buổi sáng'")
    upstream_id: int = Field(ge=1, description="An enabled entry of the allow-list (/api/v1/relay-upstreams)")
    duration_min: float = Field(gt=0, le=MAX_RELAY_MIN, description="How long each airing relays, minutes")
    fallback_content_id: int | None = Field(
        default=None, ge=1, description="A recording of the same commune played while the upstream is lost"
    )
    district: str | None = Field(default=None, max_length=64)
    commune: str | None = Field(default=None, max_length=64)


def create_relay(
    s: Session, body: RelayContentInput, district: str, commune: str, actor: str, now: datetime
) -> BroadcastContent:
    upstream = allowed_upstream(s, body.upstream_id)
    if upstream is None:
        raise UpstreamError(
            422, "upstream_not_allowed", "Luồng này không có (hoặc đã bị tắt) trong danh sách cho phép"
        )
    title = clean_text(body.title, 200)
    if not title:
        raise UpstreamError(422, "bad_title", "Tiêu đề không được để trống")
    if body.fallback_content_id is not None:
        fb = s.get(BroadcastContent, body.fallback_content_id)
        if (
            fb is None
            or fb.deleted_at is not None
            or fb.source == RELAY
            or (fb.district, fb.commune) != (district, commune)
        ):
            raise UpstreamError(
                422, "bad_fallback", "Nội dung dự phòng phải là bản ghi âm của cùng xã, chưa bị xoá"
            )
    row = BroadcastContent(
        district=district, commune=commune, title=title, source=RELAY, text=None,
        original_name=upstream.name, original_path="", path="", sha256="", size=0,
        duration_s=round(body.duration_min * 60, 3), loudness_lufs=0.0, true_peak_dbtp=0.0,
        created_by=actor, created_at=now,
        relay_upstream_id=upstream.id, relay_fallback_id=body.fallback_content_id,
    )  # fmt: skip
    s.add(row)
    s.flush()
    return row


def relay_fields(c: BroadcastContent) -> dict[str, Any]:
    """What a relay item adds to the content JSON."""
    return {"relay_upstream_id": c.relay_upstream_id, "relay_fallback_id": c.relay_fallback_id}
