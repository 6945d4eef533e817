"""The demo reads camera statuses back through the hub's JSON API, as any script would (Bearer token)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from typing import Any

# Console labels follow the web wall's.
STATUS_LABELS = {
    "ok": "hoạt động",
    "problem": "có sự cố",
    "offline": "mất kết nối",
    "stale": "không rõ trạng thái",
    "unknown": "chưa có dữ liệu",
}


class DemoApi:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def get(self, path: str) -> Any:
        req = urllib.request.Request(
            self.base_url + path,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def cameras(self) -> list[dict[str, Any]] | None:
        """The cameras the hub knows (every page of the list), or None while it cannot be asked (restarting,
        busy)."""
        out: list[dict[str, Any]] = []
        path = "/api/v1/cameras?limit=1000"
        while True:
            try:
                data = self.get(path)
            except (urllib.error.URLError, OSError, ValueError):
                return None
            items = data.get("items") if isinstance(data, dict) else None
            if not isinstance(items, list):
                return None
            out.extend(items)
            cursor = data.get("next_cursor")
            if not cursor:
                return out
            path = "/api/v1/cameras?limit=1000&cursor=" + urllib.parse.quote(str(cursor))


def summary_line(cameras: list[dict[str, Any]] | None) -> str:
    """`9 camera: 5 hoạt động, 2 có sự cố (truong-thcs-dl: black, …), 2 mất kết nối (…)`; "" when unknown."""
    if cameras is None:
        return ""
    counts = Counter(str(c.get("status")) for c in cameras)
    parts = []
    for status, label in STATUS_LABELS.items():
        n = counts.get(status, 0)
        if not n:
            continue
        text = f"{n} {label}"
        if status != "ok":
            names = []
            for c in cameras:
                if c.get("status") == status:
                    problems = c.get("problems") or []
                    names.append(
                        f"{c.get('id') or c.get('key')}" + (f": {'+'.join(problems)}" if problems else "")
                    )
            text += f" ({', '.join(sorted(names))})"
        parts.append(text)
    return f"{len(cameras)} camera: " + ", ".join(parts) if cameras else "0 camera"
