"""What the alert API handlers share: the JSON body and its fields, the nudge to the running engine."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from hub.alerts.service import ALERTS
from hub.core.facts import FactKind, Severity
from hub.web import params
from hub.web.context import ctx
from hub.web.errors import ApiError

SLUG = params.SLUG_PATTERN
KINDS = tuple(k.value for k in FactKind)
SEVERITIES = tuple(s.value for s in Severity)
MAX_BODY_FIELDS = 20


def nudge(request: web.Request) -> None:
    """People changed silences, acknowledgements or rules: the running engine re-reads them now."""
    service = ctx(request).services.find(ALERTS)
    if service is not None:
        service.refresh()


async def json_body(request: web.Request) -> dict[str, Any]:
    """The JSON object sent (already checked against the route's schema); {} when an optional body is absent."""
    if not request.body_exists:
        return {}
    if request.content_type != "application/json":
        raise ApiError(
            415, "unsupported_media_type", "Nội dung phải là JSON (Content-Type: application/json)"
        )
    try:
        data = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_body", f"JSON không hợp lệ: {exc}") from None
    if not isinstance(data, dict) or len(data) > MAX_BODY_FIELDS:
        raise ApiError(400, "bad_body", "Nội dung phải là một đối tượng JSON")
    return data


def text_field(data: dict[str, Any], name: str, max_len: int, required: bool = False) -> str | None:
    v = data.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise ApiError(400, "bad_body", f"Thiếu trường '{name}'")
        return None
    if not isinstance(v, str):
        raise ApiError(400, "bad_body", f"Trường '{name}' phải là chuỗi")
    if len(v) > max_len:
        raise ApiError(400, "bad_body", f"Trường '{name}' dài quá {max_len} ký tự")
    return v.strip()


def time_field(data: dict[str, Any], name: str) -> datetime | None:
    v = text_field(data, name, 40)
    if v is None:
        return None
    try:
        return params.parse_time(v)
    except ValueError as exc:
        status = 422 if params.is_well_formed_time(v) else 400  # the document's form, a time that cannot be
        raise ApiError(
            status, "bad_body", f"Trường '{name}': cần thời điểm ISO 8601 có múi giờ ({exc})"
        ) from None
