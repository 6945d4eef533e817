"""JSON Schemas of the programme API's answers, for the OpenAPI document (shapes from programme_views.py)."""

from __future__ import annotations

from typing import Any

from broadcast.programmes.models import STATES

_S = {"type": "string"}
_NS = {"type": ["string", "null"]}
_NT = {"type": ["string", "null"], "format": "date-time"}
_I = {"type": "integer"}
_N = {"type": "number"}


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props)}


SCHEDULE = {
    "type": "object",
    "description": "Local-time schedule: kind now/once/daily/weekly, times HH:MM, date, weekdays (1 = Monday), "
    "start_date, end_date",
    "properties": {
        "kind": {"type": "string", "enum": ["now", "once", "daily", "weekly"]},
        "times": {"type": "array", "items": _S},
        "date": _NS,
        "weekdays": {"type": "array", "items": _I},
        "start_date": _NS,
        "end_date": _NS,
    },
}
ITEM = _obj(
    {
        "content_id": _I,
        "title": _NS,
        "duration_s": {"type": ["number", "null"]},
        "deleted": {"type": "boolean"},
    }
)
PROGRAMME = _obj(
    {
        "id": _I,
        "district": _S,
        "commune": _S,
        "title": _S,
        "note": _NS,
        "items": {"type": "array", "items": ITEM},
        "length_s": {**_N, "description": "items × repeats + gaps"},
        "target_kind": {"type": "string", "enum": ["commune", "villages", "speakers"]},
        "target_label": _S,
        "target_ids": {"type": "array", "items": _S},
        "schedule": SCHEDULE,
        "schedule_text": _S,
        "repeats": _I,
        "gap_s": _N,
        "priority": {"type": "string", "enum": ["normal", "priority", "emergency"]},
        "priority_label": _S,
        "state": {"type": "string", "enum": list(STATES)},
        "state_label": _S,
        "needs_review": {"type": "boolean", "description": "aired as an emergency, not reviewed yet"},
        "anchor_at": _NT,
        "created_by": _S,
        "created_at": _NT,
        "updated_by": _NS,
        "updated_at": _NT,
        "submitted_at": _NT,
        "approved_by": _NS,
        "approved_at": _NT,
        "cancelled_at": _NT,
        "version": {**_I, "description": "send back with PUT; 409 stale if it changed meanwhile"},
    }
)
AIRING = {
    "type": "object",
    "properties": {
        "id": _S,
        "occurrence_at": _NT,
        "start_at": _NT,
        "status": _S,
        "status_label": _S,
        "reason": _NS,
        "targeted": _I,
        "played": _I,
        "url": {**_S, "description": "the airing report page"},
    },
}
PROGRAMME_DETAIL = {
    **PROGRAMME,
    "properties": {
        **PROGRAMME["properties"],
        "steps": {"type": "array", "items": {"type": "object", "description": "at, actor, action, comment"}},
        "airings": {"type": "array", "items": AIRING},
        "upcoming": {"type": "array", "items": {"type": "string", "format": "date-time"}},
        "skips": {"type": "array", "items": {"type": "object"}},
    },
    "required": [*PROGRAMME["required"], "steps", "airings", "upcoming", "skips"],
}
PROGRAMME_LIST = _obj({"items": {"type": "array", "items": PROGRAMME}})
CALENDAR = _obj(
    {
        "week_start": {"type": "string", "format": "date"},
        "days": {"type": "array", "items": _S},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "description": "programme_id, title, priority, state, start (UTC), local_day, local_time, "
                "length_s, airing (or null)",
            },
        },
        "truncated": {"type": "boolean"},
        "total": _I,
    }
)
