"""JSON Schemas of API responses, for the OpenAPI document (shapes come from hub.core.serialize)."""

from __future__ import annotations

from typing import Any

from hub.core.auth import ROLES
from hub.core.db import STATUSES
from hub.core.keyset import MAX_CURSOR
from hub.core.openapi import Param

_S = {"type": "string"}
_NS = {"type": ["string", "null"]}
_NT = {"type": ["string", "null"], "format": "date-time"}
_NN = {"type": ["number", "null"]}
_NI = {"type": ["integer", "null"]}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or list(props)}


# What keyset cursors look like (URL-safe base64 without padding, hub/core/keyset.py).
CURSOR: dict[str, Any] = {"type": "string", "pattern": f"^[A-Za-z0-9_-]{{1,{MAX_CURSOR}}}$"}


def page_params(default: int, maximum: int) -> tuple[Param, Param]:
    """`limit` and `cursor` of a list paged by keyset (hub/core/keyset.py)."""
    return (
        Param(
            "limit",
            f"Page size (default {default})",
            {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        ),
        Param(
            "cursor", "`next_cursor` of the previous page, unchanged (opaque); 422 when it is not one", CURSOR
        ),
    )


NEXT_CURSOR = {
    **_NS,
    "description": "pass as `cursor` for the next page; null on the last page. Keyset paging: rows added "
    "meanwhile never shift the following pages",
}


CAMERA = _obj(
    {
        "key": {**_S, "description": "district/commune/camera"},
        "district": _S,
        "commune": _S,
        "id": _S,
        "name": _NS,
        "agent": {**_NS, "description": "key of the edge agent that probes it"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "status_since": _NT,
        "problems": {"type": "array", "items": _S},
        "reason": _NS,
        "online": {"type": ["boolean", "null"]},
        "fps": _NN,
        "width": _NI,
        "height": _NI,
        "open_ms": _NN,
        "brightness": _NN,
        "sharpness": _NN,
        "motion": _NN,
        "last_ts": {**_NT, "description": "device time of the latest health report"},
        "last_seen": {**_NT, "description": "hub time the latest report arrived"},
        "snapshot_ts": _NT,
    }
)
COUNTS = _obj({st: {"type": "integer"} for st in STATUSES})
CAMERA_LIST = _obj(
    {
        "items": {"type": "array", "items": CAMERA},
        "total": {"type": "integer", "description": "matches of every filter, on all pages"},
        "counts": {**COUNTS, "description": "per status, after every filter except status"},
        "limit": {"type": "integer"},
        "next_cursor": NEXT_CURSOR,
    }
)
AREA_COUNTS = _obj(
    {
        "district": _S,
        "commune": _S,
        "name": {**_S, "description": "display name"},
        "counts": COUNTS,
        "total": {"type": "integer"},
    }
)
CAMERA_SUMMARY = _obj(
    {
        "epoch": {
            **_S,
            "description": "changes when the hub restarts: versions of another epoch do not compare",
        },
        "version": {
            "type": "integer",
            "description": "grows when any commune's counts change (`summary` events)",
        },
        "counts": COUNTS,
        "total": {"type": "integer"},
        "districts": {
            "type": "array",
            "description": "per district (the config's grouping of communes), sorted by id",
            "items": _obj({"district": _S, "name": _S, "counts": COUNTS, "total": {"type": "integer"}}),
        },
        "communes": {
            "type": "array",
            "description": "communes with cameras, problems first: most offline + problem, then most offline, "
            "then most stale, then by district and commune",
            "items": AREA_COUNTS,
        },
    }
)
TRANSITION = _obj(
    {
        "id": {"type": "integer"},
        "kind": _S,
        "key": _S,
        "district": _S,
        "commune": _S,
        "at": {"type": "string", "format": "date-time"},
        "from": _NS,
        "to": _S,
        "problems": {"type": "array", "items": _S},
        "reason": _NS,
    }
)
TRANSITION_PAGE = _obj(
    {
        "items": {"type": "array", "items": TRANSITION},
        "next_cursor": {**_NS, "description": "pass as `cursor` to get the next older page"},
    }
)
AGENT = _obj(
    {
        "key": _S,
        "district": _S,
        "commune": _S,
        "id": _S,
        "state": _S,
        "state_since": _NT,
        "version": _NS,
        "boot": _NS,
        "cameras": _NI,
        "queue": _NI,
        "last_seen": _NT,
        "seq_gaps": {"type": "integer"},
    }
)
AGENT_LIST = _obj({"items": {"type": "array", "items": AGENT}, "next_cursor": NEXT_CURSOR})
AREA_LIST = _obj(
    {
        "items": {
            "type": "array",
            "items": _obj(
                {"district": _S, "commune": {**_NS, "description": "null for the district"}, "name": _S}
            ),
        }
    }
)
ME = _obj(
    {
        "username": _S,
        "full_name": _NS,
        "role": {"type": "string", "enum": list(ROLES)},
        "district": {**_NS, "description": "null: province-wide"},
        "commune": _NS,
        "permissions": {"type": "array", "items": _S},
        "via": {"type": "string", "enum": ["session", "token"]},
    }
)
STATS = _obj(
    {
        "hub": {"type": "object", "description": "ingest/InfluxDB counters of the hub runtime"},
        "web": {"type": "object", "description": "web counters: SSE clients, logins, rejected requests"},
    }
)
HELLO = _obj(
    {
        "server_time": {"type": "string", "format": "date-time"},
        "user": ME,
        "counts": COUNTS,
        "cameras": {"type": ["array", "null"], "items": CAMERA, "description": "null with cameras=false"},
        "summary": {
            "anyOf": [CAMERA_SUMMARY, {"type": "null"}],
            "description": "as GET /cameras/summary when `types` names summary, else null",
        },
        "heartbeat_s": {"type": "number"},
    }
)
LIVE_KINDS = ["camera", "snapshot", "agent", "alert", "speaker", "airing", "summary"]


def _event(names: list[str], data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"enum": names},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": data},
        },
    }


EVENT_STREAM = {
    "description": "One server-sent event (text/event-stream). First `event: hello` with the current state, then "
    "`camera` {camera}, `snapshot` {key, ts}, `agent` {agent}, `alert` {alert}, `speaker`, `airing` as things "
    "change (each with its `type`), and `summary` {epoch, from, version, communes: changed communes' counts} "
    "only when asked for with `types`; comment lines (`: ping`) as heartbeat. The stream ends when the client "
    "is too slow; reconnect.",
    "oneOf": [
        _event(["hello"], HELLO),
        _event(
            LIVE_KINDS, {"type": "object", "required": ["type"], "properties": {"type": {"enum": LIVE_KINDS}}}
        ),
    ],
}
OPENAPI = {"type": "object", "description": "this document"}
