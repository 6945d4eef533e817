"""/api/v1/alert-rules…: per-district rule settings (configured, the district's override, effective); a change
applies to the running engine within a round, without a restart, and is audited."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from hub.alerts import queries as q
from hub.alerts.config import RuleSettings, alerts_settings, effective
from hub.alerts.labels import KIND_LABELS
from hub.alerts.web.requests import KINDS, SLUG, json_body, nudge
from hub.core.auth import Principal
from hub.core.facts import FactKind
from hub.core.openapi import ApiRoute, Param, model_schema
from hub.core.openapi import json_body as body_of
from hub.core.serialize import iso
from hub.web import params
from hub.web.access import Perm, in_scope, principal, requires
from hub.web.context import ctx
from hub.web.errors import ApiError, not_found, unprocessable
from hub.web.jsonout import json_response


def _district(request: web.Request, p: Principal, value: str | None) -> str:
    district = value or p.district
    if district is None:  # the caller has no district of their own to default to
        raise unprocessable("district", "bắt buộc (chọn một huyện)")
    if not in_scope(p, district, p.commune or ""):
        raise not_found(f"Huyện {district} không thuộc phạm vi của bạn")
    return district


def rules_view(
    base: dict[FactKind, RuleSettings], overrides: dict[str, Any], district: str
) -> dict[str, Any]:
    rules = []
    for kind in FactKind:
        o = overrides.get(kind.value)
        given = dict(o.settings) if o is not None else None
        try:
            eff = effective(base[kind], given)
        except ValueError:
            eff = base[kind]
        rules.append(
            {
                "kind": kind.value,
                "label": KIND_LABELS[kind],
                "configured": base[kind].model_dump(mode="json"),
                "override": given,
                "effective": eff.model_dump(mode="json"),
                "updated_by": o.updated_by if o is not None else None,
                "updated_at": iso(o.updated_at) if o is not None else None,
            }
        )
    return {"district": district, "rules": rules}


@requires(Perm.VIEW_ALERTS)
async def list_rules(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    district = _district(request, p, params.slug(request, "district"))
    overrides = await c.db.run(lambda s: q.overrides_of(s, district))
    return json_response(rules_view(alerts_settings(c.config).rules, overrides, district))


def _kind_of(request: web.Request) -> FactKind:
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise not_found(f"Không có loại cảnh báo {kind}")
    return FactKind(kind)


@requires(Perm.EDIT_ALERT_RULES)
async def put_rule(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    district = _district(request, p, request.match_info["district"])
    kind = _kind_of(request)
    data = await json_body(request)
    unknown = sorted(set(data) - set(RuleSettings.model_fields))
    if unknown:  # the schema forbids them; only reachable if it drifts from the model
        raise ApiError(400, "bad_body", f"Trường không có trong cài đặt luật: {', '.join(unknown)}")
    try:
        effective(alerts_settings(c.config).rules[kind], data)
    except ValidationError as exc:  # every field matched the schema: what is left is about their meaning
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ApiError(422, "bad_body", f"Cài đặt không hợp lệ: {problems}") from None
    now = c.clock()
    await c.db.run(lambda s: q.set_override(s, p, district, kind.value, data, now))
    nudge(request)
    overrides = await c.db.run(lambda s: q.overrides_of(s, district))
    return json_response(rules_view(alerts_settings(c.config).rules, overrides, district))


@requires(Perm.EDIT_ALERT_RULES)
async def delete_rule(request: web.Request) -> web.Response:
    c, p = ctx(request), principal(request)
    district = _district(request, p, request.match_info["district"])
    kind = _kind_of(request)
    now = c.clock()
    await c.db.run(lambda s: q.set_override(s, p, district, kind.value, None, now))
    nudge(request)
    overrides = await c.db.run(lambda s: q.overrides_of(s, district))
    return json_response(rules_view(alerts_settings(c.config).rules, overrides, district))


_S: dict[str, Any] = {"type": "string"}
RULES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "district": _S,
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "description": "kind, label, configured, override (keys set for the district or null), effective",
            },
        },
    },
}
_SLUGP = params.SLUG
# Any subset of RuleSettings' keys, each as the model takes it.
OVERRIDE_BODY = model_schema(RuleSettings, partial=True)
_RULE = (
    Param("district", "District slug", _SLUGP, where="path", example="soc-son"),
    Param(
        "kind", "Alert kind", {"type": "string", "enum": list(KINDS)}, where="path", example="camera_offline"
    ),
)
_W = (400, 401, 403, 404, 409, 415)

ROUTES = [
    ApiRoute(
        "GET",
        "/alert-rules",
        list_rules,
        "Rule settings per kind for a district: configured, the district's override, effective",
        params=(
            Param(
                "district",
                "District (default: the caller's; 422 without one for province-wide users)",
                _SLUGP,
            ),
        ),
        response=RULES_SCHEMA,
        errors=(400, 401, 403, 404, 422),
    ),
    ApiRoute(
        "PUT",
        f"/alert-rules/{{district:{SLUG}}}/{{kind:[a-z_]{{1,32}}}}",
        put_rule,
        "Set the district's override of one kind's settings (JSON object of RuleSettings keys); applies without restart",
        params=_RULE,
        body=body_of(OVERRIDE_BODY),
        response=RULES_SCHEMA,
        errors=(*_W, 422),
    ),
    ApiRoute(
        "DELETE",
        f"/alert-rules/{{district:{SLUG}}}/{{kind:[a-z_]{{1,32}}}}",
        delete_rule,
        "Remove the district's override of one kind (back to the configured settings)",
        params=_RULE,
        response=RULES_SCHEMA,
        errors=(400, 401, 403, 404),
    ),
]
