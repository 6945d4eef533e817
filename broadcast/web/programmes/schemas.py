"""JSON Schemas of the programme API's answers, for the OpenAPI document (shapes from programme_views.py)."""

from __future__ import annotations

from typing import Any

from broadcast.orders import Priority
from broadcast.programmes import input as inp
from broadcast.programmes import schedule
from broadcast.programmes.models import STATES, TARGET_KINDS
from hub.web.params import SLUG_PATTERN

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


# What the API takes (checked before the handlers run; what these cannot say is refused with 422) ------------

SLUG = {"type": "string", "pattern": f"^{SLUG_PATTERN}$"}
HHMM = {"type": "string", "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$", "description": "local time"}
_DAY = {"anyOf": [{"type": "string", "format": "date"}, {"enum": ["", None]}]}
SCHEDULE_INPUT: dict[str, Any] = {
    "type": "object",
    "required": ["kind"],
    "description": "now; once (date and times); daily (times, optional start_date..end_date); weekly (weekdays "
    "1 = Monday … 7 = Sunday, times, optional range). A kind without what it needs, a range that ends before it "
    "starts or spans more than two years, or a time already past: 422",
    "properties": {
        "kind": {"enum": list(schedule.KINDS)},
        "times": {
            "anyOf": [HHMM, {"type": "array", "minItems": 1, "maxItems": schedule.MAX_TIMES, "items": HHMM}]
        },
        "date": _DAY,
        "weekdays": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "start_date": _DAY,
        "end_date": _DAY,
    },
    "additionalProperties": False,
}
_INPUT_PROPS: dict[str, Any] = {
    "district": SLUG,
    "commune": SLUG,
    "title": {"type": "string", "maxLength": inp.MAX_TITLE, "description": "blank: 422"},
    "note": {"type": ["string", "null"], "maxLength": inp.MAX_NOTE},
    "items": {
        "type": "array",
        "minItems": 1,
        "maxItems": inp.MAX_ITEMS,
        "items": {"type": "integer", "minimum": 1, "maximum": 999_999_999},
        "description": "content ids of the commune's library, in playing order (unknown or another commune's: 422)",
    },
    "target_kind": {"enum": list(TARGET_KINDS), "description": "default commune (every speaker)"},
    "target_ids": {
        "type": ["array", "null"],
        "maxItems": inp.MAX_TARGETS,
        "uniqueItems": True,
        "items": SLUG,
        "description": "villages or speakers of the commune (at least one for those kinds, else 422)",
    },
    "schedule": SCHEDULE_INPUT,
    "repeats": {"type": "integer", "minimum": 1, "maximum": inp.MAX_REPEATS, "description": "default 1"},
    "gap_s": {"type": "number", "minimum": 0, "maximum": inp.MAX_GAP_S, "description": "between repeats"},
    "priority": {"enum": [p.value for p in Priority], "description": "default normal"},
    "submit": {"type": "boolean", "description": "send for approval at once"},
    "resolution": {"enum": ["none", "after", "replace"], "description": "what to do about conflicts (409)"},
    "version": {
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": 2**31,
        "description": "PUT: 409 if stale",
    },
}
PROGRAMME_INPUT: dict[str, Any] = {
    "type": "object",
    "required": ["district", "commune", "title", "items", "schedule"],
    "properties": _INPUT_PROPS,
    "additionalProperties": False,
}
EMERGENCY_INPUT: dict[str, Any] = {
    "type": "object",
    "description": "As for create; schedule and priority are set here (now, emergency)",
    "required": ["district", "commune", "title", "items", "confirm"],
    "properties": {**_INPUT_PROPS, "confirm": {"const": True, "description": "airs at once, no approval"}},
    "additionalProperties": False,
}


def action_input(comment_required: bool = False, confirm_required: bool = False) -> dict[str, Any]:
    """The body of submit/approve/reject/cancel/review/air-now."""
    required = [*(["comment"] if comment_required else []), *(["confirm"] if confirm_required else [])]
    return {
        "type": "object",
        "required": required,
        "properties": {
            "comment": {"type": ["string", "null"], "maxLength": 1000},
            "confirm": {"const": True} if confirm_required else {"type": "boolean"},
        },
        "additionalProperties": False,
    }
