"""Reading time series back from InfluxDB (InfluxQL over HTTP `/query`) for the web pages.

Queries are built only from fixed text and values that pass through `string_literal` / `identifier`, never by
pasting request text: a camera id cannot end a string literal and start a new statement. InfluxDB 1.x takes
`GET /query?db=`; InfluxDB 2.x/3.x answers the same through its v1 compatibility API (a DBRP mapping from the
database name to the bucket, token in `Authorization: Token`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from hub.core.config import InfluxConfig

MAX_RESPONSE_BYTES = (
    8 * 1024 * 1024
)  # a history of a few hundred buckets is a few kB; anything near this is wrong


class InfluxReadError(Exception):
    """InfluxDB could not answer (down, refused, error in the query). The message is for people (Vietnamese)."""


def string_literal(value: str) -> str:
    """An InfluxQL single-quoted string literal (tag values in WHERE)."""
    if "\n" in value or "\r" in value or "\x00" in value:
        raise ValueError("line breaks and NUL cannot appear in an InfluxQL literal")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def identifier(name: str) -> str:
    """An InfluxQL double-quoted identifier (measurement, field, tag key)."""
    if "\n" in name or "\r" in name or "\x00" in name:
        raise ValueError("line breaks and NUL cannot appear in an InfluxQL identifier")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def time_literal(dt: datetime) -> str:
    """An absolute time bound in nanoseconds since the epoch (no string parsing by InfluxDB)."""
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    return f"{int(aware.timestamp() * 1000)}000000"


def tag_conditions(tags: Mapping[str, str]) -> str:
    return " AND ".join(f"{identifier(k)} = {string_literal(v)}" for k, v in sorted(tags.items()))


@dataclass(frozen=True)
class Series:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]

    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, v, strict=False)) for v in self.values]


def parse_results(doc: Any) -> list[list[Series]]:
    """One list of series per statement; raises InfluxReadError when any statement failed."""
    if not isinstance(doc, dict):
        raise InfluxReadError("InfluxDB trả lời không đúng định dạng")
    if "error" in doc:
        raise InfluxReadError(f"InfluxDB báo lỗi: {str(doc['error'])[:300]}")
    out: list[list[Series]] = []
    for res in doc.get("results") or []:
        if not isinstance(res, dict):
            raise InfluxReadError("InfluxDB trả lời không đúng định dạng")
        if "error" in res:
            raise InfluxReadError(f"InfluxDB báo lỗi truy vấn: {str(res['error'])[:300]}")
        out.append(
            [
                Series(
                    str(s.get("name", "")),
                    dict(s.get("tags") or {}),
                    list(s.get("columns") or []),
                    list(s.get("values") or []),
                )
                for s in res.get("series") or []
            ]
        )
    return out


def finite(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


class InfluxReader:
    """`await query(q)` → series per statement, times as epoch milliseconds. One HTTP session per reader."""

    def __init__(self, cfg: InfluxConfig, timeout_s: float = 8.0) -> None:
        self._cfg = cfg
        self._base = cfg.url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=min(timeout_s, cfg.timeout_s))
        self._db = cfg.bucket if cfg.api == "v2" and cfg.bucket else cfg.database
        self._headers: dict[str, str] = {}
        self._auth: aiohttp.BasicAuth | None = None
        token = cfg.read_token() if cfg.api == "v2" else None
        if token:
            self._headers["Authorization"] = f"Token {token}"
        elif cfg.username is not None:
            self._auth = aiohttp.BasicAuth(cfg.username, cfg.password or "")

    async def query(self, q: str) -> list[list[Series]]:
        params = {"db": self._db, "q": q, "epoch": "ms"}
        if self._cfg.retention_policy:
            params["rp"] = self._cfg.retention_policy
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout, auth=self._auth, headers=self._headers) as http,
                http.get(f"{self._base}/query", params=params) as resp,
            ):
                body = await resp.content.read(MAX_RESPONSE_BYTES + 1)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise InfluxReadError(f"Không kết nối được InfluxDB ({type(exc).__name__})") from exc
        if len(body) > MAX_RESPONSE_BYTES:
            raise InfluxReadError("Kết quả từ InfluxDB quá lớn")
        if status in (401, 403):
            raise InfluxReadError(f"InfluxDB từ chối quyền đọc (HTTP {status})")
        if status >= 500 or status == 404:
            raise InfluxReadError(f"InfluxDB không sẵn sàng (HTTP {status})")
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise InfluxReadError(f"InfluxDB trả lời không phải JSON (HTTP {status})") from exc
        return parse_results(doc)
