"""What the dispatcher puts on the wire and reads back: `prepare` commands (item URLs on the hub's /media),
receiver events as receipt reports, and the `airing` InfluxDB point."""

from __future__ import annotations

import secrets
import zlib
from datetime import UTC

from broadcast.airings.models import Airing
from broadcast.airings.outcome import ReceiverReport
from broadcast.orders import AiringOrder
from contract import Channel, PlaylistItem, PreparePlaylist, RelayPlan, SpeakerCommand, SpeakerEvent, Topic
from contract.topics import speaker_topic
from hub.core.db import to_db_time
from hub.core.lineproto import line, series_key, ts_ms
from hub.core.text import clean_text


def media_url(public_url: str, sha256: str) -> str:
    return f"{public_url.rstrip('/')}/media/{sha256}.mp3"


def relay_chunk_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/relay/{token}/{{seq}}.pcm"


def prepare_command(order: AiringOrder, public_url: str, now: float) -> SpeakerCommand:
    """The order for one receiver: a playlist to prepare, or for a relay the hub's re-stream to play."""
    if order.relay is not None:
        r = order.relay
        plan = RelayPlan(
            airing=order.airing_id, start_at=order.start_at, priority=order.priority.value,
            chunk_url=relay_chunk_url(public_url, r.token), chunk_s=r.chunk_s,
            chunks=max(1, round(r.duration_s / r.chunk_s)), rate=r.rate_hz,
        )  # fmt: skip
        return SpeakerCommand(transaction=new_transaction(), action="relay", ts=now, data=plan)
    data = PreparePlaylist(
        airing=order.airing_id,
        start_at=order.start_at,
        priority=order.priority.value,
        items=[
            PlaylistItem(
                url=media_url(public_url, i.sha256), sha256=i.sha256, size=i.size, duration_s=i.duration_s
            )
            for i in order.items
        ],
        repeats=order.repeats,
        gap_s=order.gap_s,
    )
    return SpeakerCommand(transaction=new_transaction(), action="prepare", ts=now, data=data)


def cmd_topic(key: str) -> Topic:
    """The command topic of the speaker `district/commune/speaker`."""
    d, c, sp = key.split("/")
    return speaker_topic(d, c, sp, Channel.CMD)


def new_transaction() -> str:
    return secrets.token_hex(8)


def report_of(ev: SpeakerEvent) -> ReceiverReport:
    d = ev.data
    return ReceiverReport(
        event=ev.event,
        at=to_db_time(ev.ts),
        error=clean_text(ev.error, 500),  # a receiver's words: they reach pages, CSV and PDF reports
        first_sample_at=to_db_time(d.first_sample_at) if d.first_sample_at is not None else None,
        offset_ms=d.offset_ms,
        played_s=d.played_s,
        level_dbfs=d.level_dbfs,
        reason=d.reason.value if d.reason is not None else None,
        by=d.by,
    )


def airing_line(a: Airing) -> str:
    fields: dict[str, int | float | str | None] = {
        "targeted": a.targeted, "played": a.played, "skew_ms": a.skew_ms, "status": a.status, "airing": a.id,
    }  # fmt: skip
    tags = {"district": a.district, "commune": a.commune, "priority": a.priority}
    # Two airings of one commune and priority may start at the same second (different villages at 17:00):
    # a fixed sub-second offset per airing keeps both points, and a late report rewrites its own point.
    offset_s = (zlib.crc32(a.id.encode()) % 1000) / 1000
    return line(
        series_key("airing", tags), fields, ts_ms(a.start_at.replace(tzinfo=UTC).timestamp() + offset_s)
    )
