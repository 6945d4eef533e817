"""Airing reports for upward reporting (to the district and province): every airing in a period, in the
caller's scope, as one flat record each (CSV) or with its speakers (JSON). The field names, units and codes are
a published contract: docs/BROADCAST.md ("Export for upward reporting") and docs/schemas/airings-export.schema.json
describe version `EXPORT_VERSION`; a change that breaks a reader gets a new version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from broadcast.airings.models import Airing, AiringReceipt
from broadcast.orders import Priority
from hub.core.csvsafe import csv_bytes
from hub.core.serialize import iso

EXPORT_VERSION = "airings-export/1"
MAX_ROWS = 20_000  # a commune airs a few programmes a day: a province-year fits; more is refused, not cut
# TT39 (Circular 39/2020/TT-BTTTT) numbers the three levels; the hub's codes stay in `priority`.
TT39_LEVEL = {Priority.NORMAL.value: 1, Priority.PRIORITY.value: 2, Priority.EMERGENCY.value: 3}
CSV_COLUMNS = (
    "airing_id", "programme_id", "district", "commune", "title", "priority", "tt39_level", "status", "reason",
    "start_at", "finished_at", "targeted", "played", "skew_ms", "offset_ms_min", "offset_ms_max",
    "interrupted_by",
)  # fmt: skip


class TooManyRows(ValueError):
    pass


def _speaker(r: AiringReceipt) -> dict[str, Any]:
    return {
        "speaker": r.speaker_key.rsplit("/", 1)[-1],
        "state": r.state,
        "played": r.started_at is not None,
        "offset_ms": r.started_offset_ms,
        "started_at": iso(r.started_at),
        "finished_at": iso(r.finished_at),
        "played_s": r.played_s,
        "error": r.error,
    }


def export_records(
    s: Session, start: datetime, end: datetime, scope: ColumnElement[bool]
) -> list[dict[str, Any]]:
    """Airings planned in [start, end) (naive UTC) matching `scope`, in time order, with their receipts."""
    q = select(Airing).where(Airing.start_at >= start, Airing.start_at < end, scope)
    airings = list(s.scalars(q.order_by(Airing.start_at, Airing.id).limit(MAX_ROWS + 1)))
    if len(airings) > MAX_ROWS:
        raise TooManyRows(f"hơn {MAX_ROWS} lượt phát: thu hẹp khoảng thời gian")
    receipts: dict[str, list[AiringReceipt]] = {a.id: [] for a in airings}
    ids = list(receipts)
    for i in range(0, len(ids), 500):  # bounded IN lists
        rq = select(AiringReceipt).where(AiringReceipt.airing_id.in_(ids[i : i + 500]))
        for r in s.scalars(rq.order_by(AiringReceipt.speaker_key)):
            receipts[r.airing_id].append(r)
    out = []
    for a in airings:
        speakers = [_speaker(r) for r in receipts[a.id]]
        offsets = [x["offset_ms"] for x in speakers if x["played"] and x["offset_ms"] is not None]
        out.append(
            {
                "airing_id": a.id,
                "programme_id": a.programme_id,
                "district": a.district,
                "commune": a.commune,
                "title": a.title,
                "priority": a.priority,
                "tt39_level": TT39_LEVEL.get(a.priority, 1),
                "status": a.status,
                "reason": a.reason,
                "start_at": iso(a.start_at),
                "finished_at": iso(a.finished_at),
                "targeted": a.targeted,
                "played": a.played,
                "skew_ms": a.skew_ms,
                "offset_ms_min": min(offsets) if offsets else None,
                "offset_ms_max": max(offsets) if offsets else None,
                "interrupted_by": a.interrupted_by,
                "speakers": speakers,
            }  # fmt: skip
        )
    return out


def export_document(
    records: list[dict[str, Any]], start: datetime, end: datetime, generated_at: datetime
) -> dict[str, Any]:
    return {
        "version": EXPORT_VERSION,
        "from": iso(start),
        "to": iso(end),
        "generated_at": iso(generated_at),
        "airings": records,
    }


def export_csv(records: list[dict[str, Any]]) -> bytes:
    """One row per airing, machine-readable (UTC ISO times, codes not labels, '.' decimals), UTF-8 with BOM."""
    rows: list[list[object]] = [list(CSV_COLUMNS)]
    for rec in records:
        rows.append(["" if rec[c] is None else rec[c] for c in CSV_COLUMNS])
    return csv_bytes(rows)


_T: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
_MS: dict[str, Any] = {"type": ["number", "null"]}
_TXT: dict[str, Any] = {"type": ["string", "null"]}
SPEAKER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["speaker", "state", "played", "offset_ms", "started_at", "finished_at", "played_s", "error"],
    "properties": {
        "speaker": {"type": "string", "description": "speaker id (slug) in its commune"},
        "state": {
            "enum": ["sent", "ready", "started", "finished", "failed", "no_answer", "stopped"],
            "description": "last known state of the receiver for this airing",
        },
        "played": {"type": "boolean", "description": "its first sample went out"},
        "offset_ms": {**_MS, "description": "its first sample minus the planned start, ms (receiver clock)"},
        "started_at": {**_T, "description": "its first sample, UTC"},
        "finished_at": _T,
        "played_s": {**_MS, "description": "seconds of audio played"},
        "error": {**_TXT, "description": "why it did not play or stopped (Vietnamese)"},
    },
}
RECORD_PROPS: dict[str, Any] = {
    "airing_id": {"type": "string"},
    "programme_id": {"type": "integer"},
    "district": {"type": "string"},
    "commune": {"type": "string"},
    "title": {"type": "string"},
    "priority": {"enum": ["normal", "priority", "emergency"]},
    "tt39_level": {"enum": [1, 2, 3], "description": "TT39: 1 thông thường, 2 ưu tiên, 3 khẩn cấp"},
    "status": {
        "enum": [
            "scheduled",
            "dispatched",
            "playing",
            "aired",
            "partial",
            "failed",
            "missed",
            "cancelled",
            "interrupted",
        ]
    },  # fmt: skip
    "reason": _TXT,
    "start_at": {"type": "string", "format": "date-time", "description": "planned start, UTC"},
    "finished_at": _T,
    "targeted": {"type": "integer", "minimum": 0, "description": "speakers sent the airing"},
    "played": {"type": "integer", "minimum": 0, "description": "speakers that started it"},
    "skew_ms": {**_MS, "description": "max − min of the offsets of the speakers that played"},
    "offset_ms_min": _MS,
    "offset_ms_max": _MS,
    "interrupted_by": {**_TXT, "description": "the emergency airing that cut it"},
}
EXPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "airings-export.schema.json",
    "title": "Airing reports for upward reporting (" + EXPORT_VERSION + ")",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "from", "to", "generated_at", "airings"],
    "properties": {
        "version": {"const": EXPORT_VERSION},
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "generated_at": {"type": "string", "format": "date-time"},
        "airings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [*RECORD_PROPS, "speakers"],
                "properties": {**RECORD_PROPS, "speakers": {"type": "array", "items": SPEAKER_SCHEMA}},
            },
        },
    },
}
