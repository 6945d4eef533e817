"""The HTTP side of InfluxDB writes: the `Sender` protocol, its two failures, and `V1Sender` (InfluxDB 1.x).

InfluxWriter (hub/core/influx.py) owns the buffering and retries; a sender only writes one batch and says why it
could not. `V2Sender` (hub/core/influx_v2.py) is the other implementation.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

import aiohttp

from hub.core.config import InfluxConfig
from hub.core.influx_tiers import RAW
from hub.core.lineproto import PRECISION

log = logging.getLogger("hub.influx")


class InfluxUnavailable(Exception):
    """InfluxDB cannot take the batch now (down, 5xx, auth, missing database): keep it and retry."""


class InfluxRejected(Exception):
    """InfluxDB refused the batch as bad data (4xx). `rejected` is how many points it dropped, when it says so
    (InfluxDB 1.x "partial write"); None means the whole batch was refused and the bad lines are unknown."""

    def __init__(self, status: int, text: str, rejected: int | None = None) -> None:
        super().__init__(f"HTTP {status}: {text}")
        self.status = status
        self.text = text
        self.rejected = rejected


class Sender(Protocol):
    name: str

    async def prepare(self) -> None:
        """Make the target ready (e.g. create the database). Raises InfluxUnavailable."""

    async def send(self, body: bytes) -> None:
        """Write newline-separated lines. Raises InfluxUnavailable or InfluxRejected."""

    async def close(self) -> None: ...


_DROPPED_RE = re.compile(r"dropped=(\d+)")


def partial_write_rejected(text: str) -> int | None:
    """How many points an InfluxDB 1.x "partial write" answer says were not written (None if not one).

    1.x counts type conflicts in `dropped=N` but not lines it could not parse; those appear once each as
    "unable to parse"."""
    if "partial write" not in text:
        return None
    m = _DROPPED_RE.search(text)
    dropped = int(m.group(1)) if m else 0
    return dropped + text.count("unable to parse")


class V1Sender:
    """InfluxDB 1.x HTTP API: POST /write?db=&precision=ms (and InfluxQL CREATE DATABASE at start)."""

    name = "v1"

    def __init__(self, cfg: InfluxConfig) -> None:
        self._cfg = cfg
        self._base = cfg.url.rstrip("/")
        self._params = {"db": cfg.database, "precision": PRECISION}
        if cfg.retention.manage:
            self._params["rp"] = RAW.name
        elif cfg.retention_policy:
            self._params["rp"] = cfg.retention_policy
        self._auth = aiohttp.BasicAuth(cfg.username, cfg.password or "") if cfg.username is not None else None
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._cfg.timeout_s), auth=self._auth
            )
        return self._session

    async def prepare(self) -> None:
        db = self._cfg.database.replace("\\", "\\\\").replace('"', '\\"')
        try:
            async with self._http().post(
                f"{self._base}/query", data={"q": f'CREATE DATABASE "{db}"'}
            ) as resp:
                text = await resp.text()
                if resp.status in (401, 403):
                    # A write-only account may not create databases: the writes themselves will tell.
                    log.warning(
                        "cannot create InfluxDB database %r (HTTP %d); writing anyway", db, resp.status
                    )
                    return
                if resp.status != 200:
                    raise InfluxUnavailable(f"CREATE DATABASE answered HTTP {resp.status}: {text[:300]}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise InfluxUnavailable(f"{self._base} unreachable: {exc!r}") from exc

    async def send(self, body: bytes) -> None:
        try:
            async with self._http().post(f"{self._base}/write", params=self._params, data=body) as resp:
                if resp.status == 204:
                    return
                text = (await resp.text())[:2000]
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise InfluxUnavailable(f"{self._base} unreachable: {exc!r}") from exc
        status = resp.status
        if status in (400, 413, 422):
            raise InfluxRejected(status, text, partial_write_rejected(text))
        # 401/403 (credentials), 404 (database missing, or a wrong URL) and 5xx are not the data's fault.
        raise InfluxUnavailable(f"HTTP {status} from {self._base}/write: {text[:300]}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
