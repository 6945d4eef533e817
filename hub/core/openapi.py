"""The JSON API's route table and the OpenAPI 3.1 document generated from it.

Routes are registered on the aiohttp app from the same `ApiRoute` list the document is built from, so the
document cannot drift from what the server answers: every query parameter and request body is checked against
its declaration before the handler runs (hub/web/validation.py: anything the document forbids is a 400 naming
the field), and tests/hub/web/test_openapi_schemathesis.py runs schemathesis with every check against the live
app (anything the document allows must not be refused as malformed; every status, media type and body the
server answers must be documented).

Status codes: 400 when a request does not match the document; 422 when it matches but is refused on meaning
(values that contradict each other, a time already past, a reference that does not exist), the field named.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

API_PREFIX = "/api/v1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON = "application/json"


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any]
    where: str = "query"  # query / path
    required: bool = False
    example: Any = None  # shown to readers; the API test's hub is seeded with these

    @property
    def is_required(self) -> bool:
        return self.required or self.where == "path"


@dataclass(frozen=True)
class Body:
    """A request body: a schema per accepted media type. Other media types are refused with 415, a body
    that does not match its schema with 400. `required=False`: the request may carry no body at all."""

    content: Mapping[str, dict[str, Any]]
    required: bool = True
    description: str = ""
    max_bytes: int | None = None  # JSON/form bodies: more than the app's default limit (a long text)


def json_body(
    schema: dict[str, Any], description: str = "", required: bool = True, max_bytes: int | None = None
) -> Body:
    return Body({JSON: schema}, required=required, description=description, max_bytes=max_bytes)


def _inlined(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inlined(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    return node


def model_schema(model: type[BaseModel], partial: bool = False) -> dict[str, Any]:
    """A pydantic model's JSON Schema with its definitions inlined (the document has no room for a model's own
    `$defs`); `partial`: any subset of its fields. The handler validates with the same model."""
    schema = model.model_json_schema()
    out: dict[str, Any] = _inlined(schema, schema.get("$defs", {}))
    if partial:
        out.pop("required", None)
    return out


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str  # relative to API_PREFIX, aiohttp syntax ({name} or {name:regex})
    handler: Handler
    summary: str
    params: tuple[Param, ...] = ()
    response: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    content_type: str = JSON
    errors: tuple[int, ...] = (400, 401, 403)
    public: bool = False
    body: Body | None = None
    status: int = 200  # the success status `response` is answered with
    # Other media types of the success answer (e.g. text/csv with format=csv), and other success statuses
    # with their JSON schema (e.g. 202 when a device did not confirm in time).
    alternatives: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    also: Mapping[int, dict[str, Any]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # success response headers: name → description

    @property
    def full_path(self) -> str:
        return API_PREFIX + self.path

    @property
    def openapi_path(self) -> str:
        """aiohttp `{name:regex}` → OpenAPI `{name}` (the regex may hold `{m,n}` counts)."""
        return _PATH_VAR_RE.sub(r"{\1}", self.full_path)

    @property
    def query_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.where == "query")


_PATH_VAR_RE = re.compile(r"\{(\w+):(?:[^{}]|\{[^{}]*\})*\}")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable, e.g. bad_parameter"},
                "message": {"type": "string", "description": "Human-readable (Vietnamese)"},
                "field": {"type": ["string", "null"], "description": "The field refused, when one is"},
            },
        }
    },
}

_ERROR_TEXT = {
    304: "Not modified (ETag matched)",
    400: "The request does not match this document (the message names the parameter or field)",
    401: "Not authenticated",
    403: "Not allowed for this role, or outside the caller's area",
    404: "Not found, or outside the caller's scope",
    409: "Conflicts with the current state of the thing (the message says how)",
    413: "Request body too large",
    415: "Request body of a media type this operation does not accept",
    422: "Matches this document but refused on meaning (the message names the field): values that contradict "
    "each other, a time already past, a reference that does not exist",
    503: "A service this needs is not running in this process or not reachable",
    504: "The device did not answer in time",
}


def _parameter(p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p.name,
        "in": p.where,
        "required": p.is_required,
        "description": p.description,
        "schema": p.schema,
    }
    if p.example is not None:
        out["example"] = p.example
    if p.where == "query" and not p.is_required:
        out["allowEmptyValue"] = True  # `name=` is the same as leaving it out (what HTML forms send)
    return out


def _request_body(b: Body) -> dict[str, Any]:
    out: dict[str, Any] = {
        "required": b.required,
        "content": {media: {"schema": schema} for media, schema in b.content.items()},
    }
    if b.description:
        out["description"] = b.description
    return out


def _operation(r: ApiRoute) -> dict[str, Any]:
    ok: dict[str, Any] = {
        "description": "OK",
        "content": {
            r.content_type: {"schema": r.response},
            **{m: {"schema": s} for m, s in r.alternatives.items()},
        },
    }
    if r.headers:
        ok["headers"] = {k: {"description": v, "schema": {"type": "string"}} for k, v in r.headers.items()}
    op: dict[str, Any] = {
        "summary": r.summary,
        "operationId": r.handler.__name__,
        "parameters": [_parameter(p) for p in r.params],
        "responses": {str(r.status): ok},
    }
    for status, schema in r.also.items():
        op["responses"][str(status)] = {"description": "OK", "content": {JSON: {"schema": schema}}}
    errors = r.errors
    if r.body is not None:
        op["requestBody"] = _request_body(r.body)
        errors = tuple(sorted({*errors, 400, 413, 415}))  # malformed, too large, another media type
    for code in errors:
        body = {"content": {JSON: {"schema": ERROR_SCHEMA}}} if code != 304 else {}
        op["responses"][str(code)] = {"description": _ERROR_TEXT.get(code, "Error"), **body}
    if r.public:
        op["security"] = []
    return op


def build_document(routes: list[ApiRoute], server_url: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        paths.setdefault(r.openapi_path, {})[r.method.lower()] = _operation(r)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Commune ops hub API",
            "version": version,
            "description": "Camera health and operations data. Authenticate with a session cookie (web) "
            "or `Authorization: Bearer <token>` (scripts; create tokens with `python -m hub token create`). "
            "Results are limited to the caller's district/commune scope. A query parameter given empty "
            "(`name=`) counts as not given; one given twice, or one not listed for the operation, is a 400. "
            "400: the request does not match this document; 422: it matches but is refused on meaning.",
        },
        "servers": [{"url": server_url.rstrip("/")}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "ops_session"},
            },
            "schemas": {"Error": ERROR_SCHEMA},
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }
