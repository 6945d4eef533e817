"""The allow-list of upstream streams: only an administrator adds, changes or removes one (audited); relays may
use only an enabled entry, and the hub opens only the URL stored here (never one a programme or request names).

The URL is checked by shape only: http(s) for Icecast/HTTP audio and HLS (`.m3u8`), rtsp for RTSP audio; no
credentials in it (they would show on pages and in the audit log), no other scheme (file:, concat:, pipe: … would
make ffmpeg read local files or run protocols nobody allowed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcast.relays.models import RelayUpstream
from contract.configfile import StrictModel
from hub.core.audit import record_change
from hub.core.serialize import iso
from hub.core.text import clean_text

SCHEMES = {"http": "http", "https": "http", "rtsp": "rtsp"}
AUDIT_TARGET = "relay_upstream"


class UpstreamError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def protocol_of(url: str) -> str:
    """http / hls / rtsp for an allowed URL; ValueError naming what is wrong otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError("url: chỉ tiếp âm được luồng http, https hoặc rtsp")
    if not parts.hostname:
        raise ValueError("url: địa chỉ thiếu tên máy chủ")
    if parts.username or parts.password:
        raise ValueError("url: không ghi tên đăng nhập hay mật khẩu trong địa chỉ")
    if any(ch.isspace() for ch in url):
        raise ValueError("url: địa chỉ không được có khoảng trắng")
    if SCHEMES[scheme] == "http" and parts.path.lower().endswith(".m3u8"):
        return "hls"
    return SCHEMES[scheme]


class UpstreamInput(StrictModel):
    name: str = Field(min_length=1, max_length=200, description="What people call it, e.g. 'VOV1'")
    url: str = Field(min_length=8, max_length=1000, description="http(s):// (Icecast, HLS .m3u8) or rtsp://")
    enabled: bool = True
    note: str | None = Field(default=None, max_length=500)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        protocol_of(v)
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        cleaned = clean_text(v, 200)
        if not cleaned:
            raise ValueError("name: tên không được để trống")
        return cleaned


def upstream_dict(u: RelayUpstream) -> dict[str, Any]:
    return {
        "id": u.id, "name": u.name, "url": u.url, "protocol": u.protocol, "enabled": u.enabled,
        "note": u.note, "created_by": u.created_by, "created_at": iso(u.created_at),
        "updated_at": iso(u.updated_at) if u.updated_at else None,
    }  # fmt: skip


def list_upstreams(s: Session, enabled_only: bool = False) -> list[dict[str, Any]]:
    q = select(RelayUpstream).order_by(RelayUpstream.name, RelayUpstream.id)
    if enabled_only:
        q = q.where(RelayUpstream.enabled.is_(True))
    return [upstream_dict(u) for u in s.scalars(q)]


def _taken(s: Session, url: str, other_than: int | None) -> bool:
    found = s.scalar(select(RelayUpstream.id).where(RelayUpstream.url == url))
    return found is not None and found != other_than


def add_upstream(s: Session, body: UpstreamInput, actor: str, now: datetime) -> dict[str, Any]:
    if _taken(s, body.url, None):
        raise UpstreamError(409, "duplicate", "Địa chỉ luồng này đã có trong danh sách")
    u = RelayUpstream(
        name=body.name, url=body.url, protocol=protocol_of(body.url), enabled=body.enabled, note=body.note,
        created_by=actor, created_at=now,
    )  # fmt: skip
    s.add(u)
    s.flush()
    after = upstream_dict(u)
    record_change(s, actor=actor, action="relay_upstream.add", target=f"{AUDIT_TARGET}/{u.id}",
                  now=now, after=after)  # fmt: skip
    return after


def update_upstream(s: Session, uid: int, body: UpstreamInput, actor: str, now: datetime) -> dict[str, Any]:
    u = s.get(RelayUpstream, uid)
    if u is None:
        raise UpstreamError(404, "not_found", "Không tìm thấy luồng tiếp âm")
    if _taken(s, body.url, uid):
        raise UpstreamError(409, "duplicate", "Địa chỉ luồng này đã có trong danh sách")
    before = upstream_dict(u)
    u.name, u.url, u.protocol, u.enabled, u.note = (
        body.name,
        body.url,
        protocol_of(body.url),
        body.enabled,
        body.note,
    )
    u.updated_at = now
    s.flush()
    after = upstream_dict(u)
    record_change(s, actor=actor, action="relay_upstream.update", target=f"{AUDIT_TARGET}/{uid}",
                  now=now, before=before, after=after)  # fmt: skip
    return after


def remove_upstream(s: Session, uid: int, actor: str, now: datetime) -> dict[str, Any]:
    u = s.get(RelayUpstream, uid)
    if u is None:
        raise UpstreamError(404, "not_found", "Không tìm thấy luồng tiếp âm")
    before = upstream_dict(u)
    s.delete(u)  # relay content naming it can no longer air: the scheduler reports why (plan.play_items)
    record_change(s, actor=actor, action="relay_upstream.remove", target=f"{AUDIT_TARGET}/{uid}",
                  now=now, before=before)  # fmt: skip
    return before


def allowed_upstream(s: Session, uid: int | None) -> RelayUpstream | None:
    """The enabled allow-list entry a relay may play, or None."""
    if uid is None:
        return None
    u = s.get(RelayUpstream, uid)
    return u if u is not None and u.enabled else None
