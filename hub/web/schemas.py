"""JSON Schemas of API responses, for the OpenAPI document (shapes come from hub.core.serialize)."""

from __future__ import annotations

from typing import Any

from hub.core.auth import ROLES
from hub.core.db import STATUSES

_S = {"type": "string"}
_NS = {"type": ["string", "null"]}
_NT = {"type": ["string", "null"], "format": "date-time"}
_NN = {"type": ["number", "null"]}
_NI = {"type": ["integer", "null"]}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or list(props)}


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
        "total": {"type": "integer", "description": "matches before limit/offset"},
        "counts": {**COUNTS, "description": "per status, after every filter except status"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
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
AGENT_LIST = _obj({"items": {"type": "array", "items": AGENT}})
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
        "heartbeat_s": {"type": "number"},
    }
)
LIVE_KINDS = ["camera", "snapshot", "agent", "alert", "speaker", "airing"]


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
    "change (each with its `type`); comment lines (`: ping`) as heartbeat. The stream ends when the client "
    "is too slow; reconnect.",
    "oneOf": [
        _event(["hello"], HELLO),
        _event(
            LIVE_KINDS, {"type": "object", "required": ["type"], "properties": {"type": {"enum": LIVE_KINDS}}}
        ),
    ],
}
OPENAPI = {"type": "object", "description": "this document"}
