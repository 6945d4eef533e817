"""Merging communes (issue 16): `POST /api/v1/areas/merge` and the form on `/admin/areas`, one code path.

The SQL work is hub/core/area_merge.py, audited in the same transaction; then the running hub's registry
follows (devices keep their keys and topics; new ones heard on the old topics belong to the new commune).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from contract import format_validation_error
from contract.topics import is_slug
from hub.core.area_merge import MergeError, MergeResult, apply_to_store, merge_communes
from hub.core.audit import record_change
from hub.core.config import partition_map
from hub.core.openapi import ApiRoute, json_body
from hub.web.access import Perm, principal, requires
from hub.web.admin.common import FormError, field, refuse, see_other
from hub.web.context import ctx
from hub.web.errors import ApiError
from hub.web.jsonout import json_response

Pair = tuple[str, str]
_PAIR = r"^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*$"


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    source: str = Field(alias="from", pattern=_PAIR, max_length=129)
    target: str = Field(alias="into", pattern=_PAIR, max_length=129)


def _pair(value: str, label: str) -> Pair:
    d, _, c = value.partition("/")
    if not (is_slug(d) and is_slug(c)):
        raise FormError(f"{label}: {value!r} không phải mã huyện/xã")
    return d, c


def _cluster_refusal(request: web.Request, source: Pair, target: Pair) -> str | None:
    """Several hubs split the device traffic by the topics' district: a merge across partitions would leave a
    device's messages with one hub and its row with another (docs/OPERATIONS.md)."""
    config = ctx(request).config
    if not config.cluster.enabled:
        return None
    part = {d: name for name, ds in partition_map(config).items() for d in ds}
    if part.get(source[0]) != part.get(target[0]):
        return "Hai xã thuộc hai phân vùng khác nhau của cụm hub: chưa gộp được (xem OPERATIONS)"
    return None


async def merge(request: web.Request, source: Pair, target: Pair) -> MergeResult:
    """Raises MergeError with the reason when it cannot be made."""
    c, p = ctx(request), principal(request)
    why = _cluster_refusal(request, source, target)
    if why is not None:
        raise MergeError(why)
    now = c.clock()

    def run(s: Session) -> MergeResult:  # one transaction: the merge and its audit entry
        result = merge_communes(s, source, target, now)
        record_change(
            s, actor=p.username, action="area.merge", target=f"area:{'/'.join(source)}", now=now,
            before={"name": result.source_name}, after=result.summary(), district=target[0], commune=target[1],
        )  # fmt: skip
        return result

    result = await c.db.run(run)
    if c.hub is not None:
        apply_to_store(c.hub.store, result)
    c.views.invalidate()  # the walls name the target commune at once
    return result


@requires(Perm.MANAGE_DEVICES)
async def api_merge(request: web.Request) -> web.Response:
    try:
        body = MergeBody.model_validate_json(await request.read())
    except ValidationError as exc:
        raise ApiError(400, "invalid_body", format_validation_error(exc)) from None
    try:
        result = await merge(request, _pair(body.source, "from"), _pair(body.target, "into"))
    except (MergeError, FormError) as exc:
        ctx(request).count("admin_rejected_area_merge")
        raise ApiError(409, "conflict", str(exc)) from None
    return json_response(result.summary())


@requires(Perm.MANAGE_DEVICES)
async def merge_form(request: web.Request) -> web.StreamResponse:
    from hub.web.admin.areas import areas_page_again  # the page this form lives on

    form = await request.post()
    try:
        source = _pair(field(form, "from", "Xã bị gộp", max_len=129), "Xã bị gộp")
        target = _pair(field(form, "into", "Gộp vào xã", max_len=129), "Gộp vào xã")
        await merge(request, source, target)
    except (FormError, MergeError) as exc:
        return await refuse(
            request, "area_merge", str(exc), areas_page_again, 409 if isinstance(exc, MergeError) else 400
        )
    return see_other("/admin/areas?msg=area_merged")


_PAIR_SCHEMA: dict[str, Any] = {"type": "string", "pattern": _PAIR, "maxLength": 129}
_MERGE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["from", "into"],
    "properties": {
        "from": {**_PAIR_SCHEMA, "description": "the commune that ends, `district/commune`"},
        "into": {**_PAIR_SCHEMA, "description": "the commune that absorbs it, `district/commune`"},
    },
    "additionalProperties": False,
}
_MERGED: dict[str, Any] = {
    "type": "object",
    "required": ["from", "into", "from_name", "into_name", "moved", "renamed_cameras"],
    "properties": {
        "from": {"type": "string"},
        "into": {"type": "string"},
        "from_name": {"type": "string"},
        "into_name": {"type": "string"},
        "moved": {"type": "object", "additionalProperties": {"type": "integer"}},
        "renamed_cameras": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
ROUTES = [
    ApiRoute(
        "POST", "/areas/merge", api_merge,
        "Merge commune `from` into `into`: devices, users' scopes, villages, programmes, alerts and history move; "
        "devices keep their topics; the old name stays as an alias. 409: it cannot be made (unknown commune, "
        "villages of the same code, communes of different cluster partitions)",
        response=_MERGED, errors=(400, 401, 403, 409, 415), body=json_body(_MERGE_BODY),
    ),
]  # fmt: skip


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/areas/merge", merge_form)
