"""One error shape for the API ({"error": {"code", "message"}}) and Vietnamese error pages for people."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import quote

from aiohttp import web

from hub.core.openapi import API_PREFIX, Handler
from hub.web.context import ctx
from hub.web.jsonout import json_response
from hub.web.render import render

log = logging.getLogger("hub.web")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        field: str | None = None,  # the parameter or body field refused, when one is (machine-readable)
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.field = field


def not_found(what: str = "Không tìm thấy") -> ApiError:
    return ApiError(404, "not_found", what)


def bad_parameter(name: str, problem: str) -> ApiError:
    return ApiError(400, "bad_parameter", f"Tham số '{name}' không hợp lệ: {problem}", field=name)


def unprocessable(name: str, problem: str, code: str = "bad_parameter") -> ApiError:
    """A request that matches the API document but is refused on meaning (values that contradict each
    other, a time already past, a reference that does not exist): 422, the field named."""
    return ApiError(422, code, f"'{name}' không hợp lệ: {problem}", field=name)


def json_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, field: str | None = None
) -> web.Response:
    error: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return json_response({"error": error}, status=status, headers=dict(headers or {}))


_HTTP_CODES = {
    400: ("bad_request", "Yêu cầu không hợp lệ"),
    404: ("not_found", "Không tìm thấy"),
    405: ("method_not_allowed", "Phương thức không được hỗ trợ"),
    413: ("too_large", "Yêu cầu quá lớn"),
}


def is_api(request: web.Request) -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def _page_error(request: web.Request, err: ApiError) -> web.StreamResponse:
    if err.status == 401:
        target = request.path_qs if request.method == "GET" else "/"
        raise web.HTTPFound("/login?next=" + quote(target, safe="/"))
    resp = render(request, "error.html", status=err.status, code=err.status, message=err.message)
    resp.headers.update(err.headers)
    return resp


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        err = exc
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and 304s pass through
        code, message = _HTTP_CODES.get(exc.status, ("http_error", exc.reason))
        err = ApiError(exc.status, code, message, {k: v for k, v in exc.headers.items() if k == "Allow"})
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        err = ApiError(500, "internal", "Lỗi máy chủ; chi tiết đã được ghi vào nhật ký")
    ctx(request).count(f"http_{err.status}_{err.code}")
    if err.status >= 400 and err.status != 404 and err.status < 500:
        log.info("rejected %s %s: %s %s", request.method, request.path, err.status, err.code)
    if is_api(request) or request.headers.get("Accept", "").startswith("application/json"):
        return json_error(err.status, err.code, err.message, err.headers, err.field)
    return _page_error(request, err)
