"""Weak ETags from version counters (never from hashing a large body) and the 304 that answers a match."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from aiohttp import web

from hub.core.auth import Principal

CACHE_CONTROL = "private, no-cache"  # a browser keeps the answer and asks again with If-None-Match each time


def weak_etag(*parts: object) -> str:
    return 'W/"' + ".".join(str(p) for p in parts) + '"'


def caller_tag(request: web.Request, p: Principal) -> str:
    """Tells apart answers to the same version for different scopes or queries (a few bytes, not a hash of
    the body)."""
    raw = f"{p.district}|{p.commune}|{request.query_string}".encode()
    return format(zlib.crc32(raw), "x")


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def matches(request: web.Request, etag: str) -> bool:
    """If-None-Match compared weakly (RFC 9110 §13.1.2), `*` included."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    want = _opaque(etag)
    tags: Iterable[str] = header.split(",")
    return any(t.strip() == "*" or _opaque(t) == want for t in tags)


def not_modified(etag: str) -> web.Response:
    return web.Response(status=304, headers={"ETag": etag, "Cache-Control": CACHE_CONTROL})


def json_bytes(body: bytes, etag: str) -> web.Response:
    return web.Response(
        body=body,
        content_type="application/json",
        charset="utf-8",
        headers={"ETag": etag, "Cache-Control": CACHE_CONTROL},
    )
