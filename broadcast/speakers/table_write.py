"""The speakers' SQL flush: the columns receivers report, for every changed speaker, in one statement each for
the known and the new ones (5,000 speakers report every 30 s at a province)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from broadcast.speakers.live import SpeakerLive
from hub.core.bulk import BulkWriter
from hub.core.db import to_db_time
from hub.core.speaker_models import Speaker

_REPORTED = (
    "status", "status_since", "version", "volume", "amplifier", "signal_dbm", "disk_free_mb", "playing", "last_seen",
)  # fmt: skip
# The name and village the receiver gave are written only where nobody has set them (an administrator's edit
# stays).
_UPDATE = (
    update(Speaker)
    .where(Speaker.key == bindparam("b_key"))
    .values(
        {c: bindparam(c) for c in _REPORTED}
        | {
            "name": func.coalesce(Speaker.name, bindparam("r_name")),
            "village": func.coalesce(Speaker.village, bindparam("r_village")),
        }
    )
)
_INSERT = insert(Speaker).values(
    {
        c: bindparam(c)
        for c in ("key", "district", "commune", "slug", "name", "village", "pending", *_REPORTED)
    }
)
_bulk = BulkWriter()
IN_CHUNK = 500


def _values(x: SpeakerLive) -> dict[str, Any]:
    return {
        "status": x.status,
        "status_since": to_db_time(x.status_since) if x.status_since else None,
        "version": x.version, "volume": x.volume, "amplifier": x.amplifier, "signal_dbm": x.signal_dbm,
        "disk_free_mb": x.disk_free_mb, "playing": x.playing,
        "last_seen": to_db_time(x.last_seen) if x.last_seen else None,
    }  # fmt: skip


def write_speakers(s: Session, rows: list[SpeakerLive]) -> None:
    """Reported columns only; a speaker missing from the table (new, or removed by an administrator while it
    kept reporting) is inserted, with its `pending` mark."""
    keys = [x.key for x in rows]
    there: set[str] = set()
    for i in range(0, len(keys), IN_CHUNK):
        there.update(s.scalars(select(Speaker.key).where(Speaker.key.in_(keys[i : i + IN_CHUNK]))))
    updates, inserts = [], []
    for x in rows:
        v = _values(x)
        if x.key in there:
            updates.append({**v, "b_key": x.key, "r_name": x.name, "r_village": x.village})
        else:
            inserts.append(
                {**v, "key": x.key, "district": x.district, "commune": x.commune, "slug": x.slug,
                 "name": x.name, "village": x.village, "pending": x.pending}
            )  # fmt: skip
    conn = s.connection()
    _bulk.executemany(conn, _UPDATE, updates)
    _bulk.executemany(conn, _INSERT, inserts)
