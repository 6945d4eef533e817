"""The JSON API's route table and the OpenAPI 3.1 document generated from it.

Routes are registered on the aiohttp app from the same `ApiRoute` list the document is built from, so the
document cannot drift from what the server answers (a test also compares it with the live router).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any]
    where: str = "query"  # query / path
    required: bool = False


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str  # relative to API_PREFIX, aiohttp syntax ({name} or {name:regex})
    handler: Handler
    summary: str
    params: tuple[Param, ...] = ()
    response: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    content_type: str = "application/json"
    errors: tuple[int, ...] = (400, 401, 403)
    public: bool = False

    @property
    def full_path(self) -> str:
        return API_PREFIX + self.path

    @property
    def openapi_path(self) -> str:
        """aiohttp `{name:regex}` → OpenAPI `{name}` (the regex may hold `{m,n}` counts)."""
        return _PATH_VAR_RE.sub(r"{\1}", self.full_path)


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
            },
        }
    },
}

_ERROR_TEXT = {
    304: "Not modified (ETag matched)",
    400: "Invalid parameter (the message names it)",
    401: "Not authenticated",
    403: "Not allowed for this role",
    404: "Not found, or outside the caller's scope",
}


def _operation(r: ApiRoute) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": r.summary,
        "operationId": r.handler.__name__,
        "parameters": [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "description": p.description,
                "schema": p.schema,
            }
            for p in r.params
        ],
        "responses": {
            "200": {
                "description": "OK",
                "content": {r.content_type: {"schema": r.response}},
            }
        },
    }
    for code in r.errors:
        body = {"content": {"application/json": {"schema": ERROR_SCHEMA}}} if code != 304 else {}
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
            "Results are limited to the caller's district/commune scope.",
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
