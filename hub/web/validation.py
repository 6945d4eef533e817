"""Every API request checked against its route's declaration in the OpenAPI document before the handler runs.

The document is the contract: what it forbids is refused here with a 400 that names the parameter or field
(unknown or repeated query parameters, wrong types, values outside enums, patterns, ranges and lengths, bodies
of another media type (415) or not matching their schema). Handlers then refuse only on meaning (422), or for
access, existence and state (403/404/409). The same JSON Schema engine checks both the query values (typed from
their strings by the declared type) and the bodies, so the document cannot allow what this refuses or the
reverse without tests/hub/web/test_openapi_schemathesis.py noticing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jsonschema_rs
from aiohttp import web
from aiohttp.helpers import parse_mimetype
from multidict import MultiDictProxy

from hub.core.openapi import JSON, ApiRoute, Body, Handler, Param
from hub.web.errors import ApiError, bad_parameter
from hub.web.params import is_time_schema, plus_restored

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
_INTEGER = re.compile(r"-?[0-9]{1,300}")
_NUMBER = re.compile(r"-?[0-9]{1,300}(\.[0-9]{1,300})?([eE][+-]?[0-9]{1,3})?")
_BOOLEANS = {"true": True, "false": False}
# Bodies read whole here (JSON, forms) are bounded by the app's client_max_size; others are streamed by their
# handler (uploads, CSV) with its own cap, so only their media type is checked here.
_READ_WHOLE = (JSON, FORM)


def _validator(schema: Mapping[str, Any]) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator(dict(schema), validate_formats=True)


def _typed(value: str, schema: Mapping[str, Any]) -> Any:
    """A query string value as the declared type; left a string (and so refused) when it is not one."""
    kind = schema.get("type")
    if kind == "integer" and _INTEGER.fullmatch(value):
        return int(value)
    if kind == "number" and _NUMBER.fullmatch(value):
        return float(value) if any(c in value for c in ".eE") else int(value)
    if kind == "boolean":
        return _BOOLEANS.get(value, value)
    return value


def _problem(err: jsonschema_rs.ValidationError) -> tuple[str | None, str]:
    """(the offending field inside the value, a Vietnamese reason) of one schema violation."""
    kind = err.kind
    name = getattr(kind, "name", "")
    if name == "required":
        return str(getattr(kind, "property", "")), "bắt buộc"
    if name == "additionalProperties":
        unexpected = list(getattr(kind, "unexpected", [])) or ["?"]
        return str(unexpected[0]), "trường không được hỗ trợ"
    limit = getattr(kind, "limit", None)
    reasons = {
        "maximum": f"phải nhỏ hơn hoặc bằng {limit}",
        "minimum": f"phải lớn hơn hoặc bằng {limit}",
        "exclusiveMaximum": f"phải nhỏ hơn {limit}",
        "exclusiveMinimum": f"phải lớn hơn {limit}",
        "maxLength": f"dài quá {limit} ký tự",
        "minLength": f"cần ít nhất {limit} ký tự",
        "maxItems": f"nhiều quá {limit} phần tử",
        "minItems": f"cần ít nhất {limit} phần tử",
        "pattern": "không đúng dạng",
        "format": f"không đúng định dạng {getattr(kind, 'format', '')}".rstrip(),
        "type": "sai kiểu dữ liệu",
        "uniqueItems": "có phần tử lặp lại",
        "anyOf": "không khớp dạng nào được phép",
        "oneOf": "không khớp dạng nào được phép",
        "const": f"phải là {getattr(kind, 'expected_value', '')}".rstrip(),
    }
    if name == "enum":
        options = ", ".join(str(x) for x in getattr(kind, "options", []))
        return None, f"cho phép: {options}"
    return None, reasons.get(name, err.message)


def _dotted(path: list[str | int], extra: str | None) -> str:
    out = ""
    for part in [*path, *([extra] if extra else [])]:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _first_violation(validator: jsonschema_rs.Validator, value: Any) -> tuple[str, str] | None:
    try:
        err = next(iter(validator.iter_errors(value)), None)
    except ValueError as exc:  # a value the engine cannot hold (a number past its range)
        return "", str(exc)
    if err is None:
        return None
    field, reason = _problem(err)
    return _dotted(list(err.instance_path), field), reason


class RequestCheck:
    """The checks of one route, compiled once when the app is built."""

    def __init__(self, route: ApiRoute) -> None:
        self.params = {p.name: (p, _validator(p.schema)) for p in route.query_params}
        self.body = route.body
        self.bodies = {
            media: _validator(s) for media, s in (route.body.content.items() if route.body else ())
        }

    async def __call__(self, request: web.Request) -> web.Request:
        """The request to hand on: a clone with a larger body limit where the route declares one."""
        self.query(request)
        if self.body is None:
            return request
        if self.body.max_bytes is not None and request.body_exists:
            request = request.clone(client_max_size=self.body.max_bytes)
        await self.check_body(request, self.body)
        return request

    def query(self, request: web.Request) -> None:
        for name in request.query:
            if name not in self.params:
                raise bad_parameter(name, "tham số không được hỗ trợ ở đây")
        for name, (param, validator) in self.params.items():
            values = request.query.getall(name, [])
            if len(values) > 1:
                raise bad_parameter(name, "chỉ được cho một lần")
            if not values or values[0] == "":
                if param.is_required:
                    raise bad_parameter(name, "bắt buộc")
                continue
            self._value(param, validator, values[0])

    @staticmethod
    def _value(param: Param, validator: jsonschema_rs.Validator, raw: str) -> None:
        value = plus_restored(raw) if is_time_schema(param.schema) else raw
        bad = _first_violation(validator, _typed(value, param.schema))
        if bad is not None:
            raise bad_parameter(param.name, f"{raw[:70]!r}: {bad[1]}")

    async def check_body(self, request: web.Request, body: Body) -> None:
        if not request.body_exists and "Content-Type" not in request.headers:
            if body.required:
                raise ApiError(400, "bad_body", "Thiếu nội dung yêu cầu")
            return
        media = request.content_type
        validator = self.bodies.get(media)
        if validator is None:
            accepted = ", ".join(body.content)
            raise ApiError(
                415, "unsupported_media_type", f"Nội dung phải có kiểu {accepted} (đã gửi {media})"
            )
        if media == MULTIPART and not parse_mimetype(request.headers.get("Content-Type", "")).parameters.get(
            "boundary"
        ):
            raise ApiError(400, "bad_body", "Thiếu 'boundary' trong Content-Type multipart/form-data")
        if media in _READ_WHOLE:
            value: Any = await _json(request) if media == JSON else await _form(request)
        elif request.body_exists:
            return  # streamed by its handler (uploads, CSV), which caps and checks it
        else:
            value = ""  # an empty streamed body is checked as the empty string
        _refuse_violation(validator, value)


def _refuse_violation(validator: jsonschema_rs.Validator, value: Any) -> None:
    bad = _first_violation(validator, value)
    if bad is not None:
        where, reason = bad
        field = where or "body"
        raise ApiError(400, "bad_body", f"Trường '{field}' không hợp lệ: {reason}", field=field)


def check_fields(schema: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
    """For bodies their handler streams (multipart uploads): the text fields read, against the schema."""
    _refuse_violation(_validator({**schema, "required": []}), dict(fields))


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} không phải giá trị JSON")


async def _json(request: web.Request) -> Any:
    raw = await request.read()  # cached by aiohttp: the handler reads the same bytes again
    try:
        return json.loads(raw, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_body", f"Nội dung không phải JSON hợp lệ: {str(exc)[:100]}") from None


async def _form(request: web.Request) -> dict[str, str]:
    try:
        form: MultiDictProxy[Any] = await request.post()  # cached by aiohttp for the handler
    except ValueError as exc:  # not UTF-8, or not the form it says it is
        raise ApiError(400, "bad_body", f"Biểu mẫu không đọc được: {str(exc)[:100]}") from None
    out: dict[str, str] = {}
    for name in form:
        values = form.getall(name)
        if len(values) > 1:
            raise ApiError(400, "bad_body", f"Trường '{name}' chỉ được cho một lần")
        if not isinstance(values[0], str):
            raise ApiError(400, "bad_body", f"Trường '{name}' phải là văn bản")
        out[name] = values[0]
    return out


def _as_form_field(schema: dict[str, Any]) -> dict[str, Any]:
    if "enum" in schema:
        return {**schema, "enum": [x for x in schema["enum"] if isinstance(x, str)]}
    return {**schema, "type": "string"}


def form_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON body's schema for the same fields sent as a form: every value a string (no null), and the
    session's `csrf` field allowed."""
    fields = {k: _as_form_field(v) for k, v in schema.get("properties", {}).items()}
    return {**schema, "properties": {"csrf": {"type": "string"}, **fields}}


def checked(route: ApiRoute) -> Handler:
    """The route's handler behind its request checks (the access declaration is kept)."""
    check = RequestCheck(route)
    inner = route.handler

    async def handler(request: web.Request) -> web.StreamResponse:
        return await inner(await check(request))

    handler.__name__ = inner.__name__
    handler.__dict__.update(inner.__dict__)
    return handler
