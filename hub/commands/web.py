"""POST /api/v1/cameras/{d}/{c}/{id}/commands: snapshot now, probe now, relearn the reference view.

The hub publishes the command to the edge agent that probes the camera and waits (bounded) for its reply; the
answer says what the agent did. Every command sent is written to the audit log with its outcome.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.commands.service import COMMANDS, WEB_ACTIONS, CommandBusy, CommandOutcome, EdgeCommander
from hub.core.audit import record_change
from hub.core.mqtt_outbox import PublishError
from hub.core.openapi import JSON, ApiRoute, Body
from hub.web.access import Perm, principal, requires
from hub.web.api.cameras import CAMERA_PARAMS, CAMERA_PATH, _camera_or_404
from hub.web.context import ctx
from hub.web.errors import ApiError, bad_parameter
from hub.web.jsonout import json_response
from hub.web.validation import FORM, form_schema

ACTION_LABELS = {
    "snapshot": "Chụp ảnh ngay",
    "probe": "Kiểm tra ngay",
    "relearn": "Học lại ảnh tham chiếu",
}
ACTION_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["action"],
    "properties": {"action": {"type": "string", "enum": list(WEB_ACTIONS)}},
    "additionalProperties": False,
}


async def _action_of(request: web.Request) -> str:
    """The action from a JSON body {"action": …} or a form field `action` (both checked against ACTION_BODY
    before the handler runs)."""
    if request.content_type == JSON:
        action = (await request.json()).get("action")
    else:
        action = (await request.post()).get("action")
    if not isinstance(action, str) or action not in WEB_ACTIONS:  # only reachable if the schema drifts
        raise bad_parameter("action", f"cho phép: {', '.join(WEB_ACTIONS)}")
    return action


def commander_of(request: web.Request) -> EdgeCommander:
    commander = ctx(request).services.find(COMMANDS)
    if commander is None:
        raise ApiError(503, "hub_unavailable", "Máy chủ web này không kết nối MQTT nên không gửi được lệnh")
    return commander


def outcome_to_dict(o: CommandOutcome, action: str, agent_key: str) -> dict[str, Any]:
    r = o.reply
    return {
        "transaction": o.transaction,
        "action": action,
        "agent": agent_key,
        "result": o.result,
        "error": r.error if r is not None else None,
        "data": r.data if r is not None else {},
        "waited_s": round(o.waited_s, 2),
    }


@requires(Perm.COMMAND_DEVICES)
async def post_command(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    cam = await _camera_or_404(request)
    action = await _action_of(request)
    commander = commander_of(request)
    agent_key = cam.agent_key
    if not agent_key:
        raise ApiError(
            409, "no_agent", f"Camera {cam.key} chưa gắn với hộp giám sát nào: không có nơi nhận lệnh"
        )
    hub = c.hub
    assert hub is not None
    agent = hub.store.agents.get(agent_key)
    if agent is not None and agent.reported == "offline":
        raise ApiError(
            409, "agent_offline", f"Hộp giám sát {agent_key} đang mất kết nối; lệnh không gửi được"
        )
    try:
        outcome = await commander.send(agent_key, action, cam.slug)  # type: ignore[arg-type]
    except CommandBusy as exc:
        raise ApiError(503, "busy", f"Hub đang bận: {exc}; hãy thử lại sau") from None
    except PublishError:
        c.count("command_publish_errors")
        raise ApiError(503, "mqtt_unavailable", "Không gửi được lệnh: hub đang mất kết nối MQTT") from None
    body = outcome_to_dict(outcome, action, agent_key)
    now = c.clock()
    await c.db.run(
        lambda s: record_change(
            s,
            actor=p.username,
            action=f"camera.command.{action}",
            target=f"camera:{cam.key}",
            now=now,
            after={k: body[k] for k in ("transaction", "agent", "result", "error")},
            district=cam.district,
            commune=cam.commune,
        )
    )
    if outcome.result == "timeout":
        raise ApiError(
            504,
            "command_timeout",
            f"Hộp giám sát {agent_key} chưa trả lời lệnh «{ACTION_LABELS[action]}» sau {outcome.waited_s:.0f} giây",
        )
    return json_response(body)


COMMAND_RESULT = {
    "type": "object",
    "required": ["transaction", "action", "agent", "result", "error", "data", "waited_s"],
    "properties": {
        "transaction": {"type": "string"},
        "action": {"type": "string", "enum": list(WEB_ACTIONS)},
        "agent": {"type": "string", "description": "district/commune/agent that carried it out"},
        "result": {"type": "string", "enum": ["ok", "error"], "description": "What the agent answered"},
        "error": {"type": ["string", "null"], "description": "The agent's reason when result=error"},
        "data": {"type": "object", "description": "The agent's reply data (probe summary, relearn note)"},
        "waited_s": {"type": "number"},
    },
}
ROUTES = [
    ApiRoute(
        "POST",
        CAMERA_PATH + "/commands",
        post_command,
        'Send a command to the camera\'s edge agent and wait for its reply. Body JSON {"action": '
        '"snapshot"|"probe"|"relearn"} (or a form field). 409 when the camera has no agent or the agent '
        "is offline, 504 when it does not answer in time, 503 when the hub cannot publish",
        params=CAMERA_PARAMS,
        body=Body({JSON: ACTION_BODY, FORM: form_schema(ACTION_BODY)}),
        response=COMMAND_RESULT,
        errors=(400, 401, 403, 404, 409, 503, 504),
    ),
]
