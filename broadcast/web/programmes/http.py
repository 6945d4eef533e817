"""What the programme API handlers share: the request body, refusals as JSON, the scoped programme, the
running scheduler."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from broadcast.programmes.input import ProgrammeError
from broadcast.programmes.models import Programme
from broadcast.scheduling.scheduler import BroadcastScheduler
from broadcast.service import SCHEDULER
from hub.core.auth import Principal
from hub.web.access import in_scope, principal
from hub.web.context import ctx
from hub.web.errors import ApiError, bad_parameter
from hub.web.jsonout import json_response

log = logging.getLogger("broadcast.web")
MAX_COMMENT = 1000


def scheduler_of(request: web.Request) -> BroadcastScheduler | None:
    return ctx(request).services.find(SCHEDULER)


async def reload_scheduler(request: web.Request) -> None:
    sched = scheduler_of(request)
    if sched is not None:
        try:
            await sched.reload()
        except Exception:  # the change is saved; the leader replans from the revision bump anyway
            log.exception("scheduler reload after a programme change failed")


async def read_body(request: web.Request) -> dict[str, Any]:
    """The JSON object sent (its shape already checked against the route's schema); {} when an optional body
    is left out."""
    if not request.body_exists:
        return {}
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Nội dung gửi lên phải là JSON (application/json)")
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise bad_parameter("body", "không phải JSON hợp lệ") from None
    if not isinstance(body, dict):
        raise bad_parameter("body", "cần một đối tượng JSON")
    return body


def comment_of(body: dict[str, Any]) -> str | None:
    allowed = {"comment", "confirm"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_parameter(unknown[0], "trường không được hỗ trợ")
    v = body.get("comment")
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if not isinstance(v, str) or len(v) > MAX_COMMENT:
        raise bad_parameter("comment", f"phải là chữ, tối đa {MAX_COMMENT} ký tự")
    return v.strip()


def error_response(exc: ProgrammeError) -> web.Response:
    return json_response(
        {"error": {"code": exc.code, "message": exc.message, "field": exc.field}}, status=exc.status
    )


def loaded(s: Session, who: Principal, programme_id: int) -> Programme:
    p = s.get(Programme, programme_id)
    if p is None or not in_scope(who, p.district, p.commune):
        raise ProgrammeError("id", "Không tìm thấy chương trình", 404, "not_found")
    return p


def count_refusal(request: web.Request, what: str, exc: ProgrammeError) -> None:
    c = ctx(request)
    c.count(f"programme_rejected_{exc.code}")
    log.info(
        "programme %s refused for %s: %s (%s)", what, principal(request).username, exc.message, exc.field
    )
