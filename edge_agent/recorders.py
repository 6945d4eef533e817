"""Watching the recorders (NVR/DVR) beside the cameras: one look every `interval_s`, in a thread.

A look is a handful of blocking HTTP requests (requests with HTTP Digest auth, each with `timeout_s`), so it
runs in a worker thread (`asyncio.to_thread`) and is also capped as a whole; the event loop only publishes
the result. A recorder that does not answer, refuses the account or sends something that is not ISAPI is
reported `online: false` with a Vietnamese `error`; a channel whose search fails keeps `oldest_ts` empty.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo

import requests
from requests.auth import HTTPDigestAuth

from contract import RecorderChannel, RecorderDisk, RecorderHealth
from edge_agent import dahua, isapi
from edge_agent.config import RecorderConfig

log = logging.getLogger(__name__)

DAY_S = 86400.0
Look = tuple[list[RecorderDisk], list[RecorderChannel]]


class LookFailed(Exception):
    """The recorder could not be read; the message is for people (Vietnamese)."""


class HttpSession:
    def __init__(self, cfg: RecorderConfig) -> None:
        self.cfg = cfg
        self.http = requests.Session()
        self.http.auth = HTTPDigestAuth(cfg.username, cfg.password.get_secret_value())
        self.http.headers["Content-Type"] = "application/xml"

    def request(self, method: str, path: str, body: str | None = None) -> bytes:
        try:
            r = self.http.request(method, self.cfg.url + path, data=body, timeout=self.cfg.timeout_s)
        except requests.Timeout as exc:
            raise LookFailed(f"Đầu ghi không trả lời trong {self.cfg.timeout_s:g} s") from exc
        except requests.ConnectionError as exc:
            raise LookFailed("Không kết nối được tới đầu ghi") from exc
        if r.status_code == 401:
            raise LookFailed("Đầu ghi từ chối tài khoản (sai tên hoặc mật khẩu)")
        if r.status_code != 200:
            why = (
                isapi.parse_error(r.content) if self.cfg.api == "isapi" else None
            ) or f"HTTP {r.status_code}"
            raise LookFailed(f"Đầu ghi báo lỗi ở {path}: {why}")
        return r.content

    def close(self) -> None:
        self.http.close()


def look(cfg: RecorderConfig, now: float) -> Look:
    """Disks and channels of one recorder, through the API it speaks. Blocking: run it in a thread."""
    return look_dahua(cfg, now) if cfg.api == "dahua" else look_isapi(cfg, now)


def look_isapi(cfg: RecorderConfig, now: float) -> Look:
    tz = ZoneInfo(cfg.time_zone)
    s = HttpSession(cfg)
    try:
        try:
            disks = isapi.parse_storage(s.request("GET", isapi.STORAGE))
            enabled = isapi.parse_tracks(s.request("GET", isapi.TRACKS))
            writing = isapi.parse_working_status(s.request("GET", isapi.WORKING_STATUS))
        except isapi.IsapiError as exc:
            raise LookFailed(f"Đầu ghi trả lời không đúng chuẩn ISAPI: {exc}") from exc
        numbers = sorted(set(cfg.channels) | set(enabled))
        channels = []
        for n in numbers:
            oldest = None
            if n in cfg.channels:  # footage kept matters for the cameras we watch; others are not searched
                try:
                    oldest = isapi.parse_search(
                        s.request("POST", isapi.SEARCH, isapi.search_body(n, now)), tz
                    )
                except (LookFailed, isapi.IsapiError) as exc:
                    log.warning("recorder %s channel %d: search failed: %s", cfg.id, n, exc)
            channels.append(
                RecorderChannel(
                    channel=n,
                    camera=cfg.channels.get(n),
                    enabled=enabled.get(n),
                    recording=writing.get(n),
                    oldest_ts=oldest if oldest is not None and oldest <= now else None,
                )
            )
        return disks, channels
    finally:
        s.close()


def _dahua_oldest(s: HttpSession, channel: int, now: float, tz: ZoneInfo) -> float | None:
    obj = dahua.parse_object(s.request("GET", f"{dahua.FIND}?action=factory.create").decode(errors="replace"))
    try:
        start, end = quote("2000-01-01 00:00:00"), quote(dahua.local_time(now, tz))
        s.request("GET", f"{dahua.FIND}?action=findFile&object={obj}&condition.Channel={channel}"
                         f"&condition.StartTime={start}&condition.EndTime={end}")  # fmt: skip
        found = s.request("GET", f"{dahua.FIND}?action=findNextFile&object={obj}&count=1")
        return dahua.parse_first_start(found.decode(errors="replace"), tz)
    finally:
        for action in ("close", "destroy"):  # the finder is a handle on the recorder: always give it back
            try:
                s.request("GET", f"{dahua.FIND}?action={action}&object={obj}")
            except LookFailed:
                pass


def look_dahua(cfg: RecorderConfig, now: float) -> Look:
    tz = ZoneInfo(cfg.time_zone)
    s = HttpSession(cfg)
    try:
        try:
            disks = dahua.parse_storage(s.request("GET", dahua.STORAGE).decode(errors="replace"))
            enabled = dahua.parse_record_mode(s.request("GET", dahua.RECORD_MODE).decode(errors="replace"))
        except dahua.DahuaError as exc:
            raise LookFailed(f"Đầu ghi trả lời không đúng chuẩn Dahua: {exc}") from exc
        channels = []
        for n in sorted(set(cfg.channels) | set(enabled)):
            oldest = None
            if n in cfg.channels:
                try:
                    oldest = _dahua_oldest(s, n, now, tz)
                except (LookFailed, dahua.DahuaError) as exc:
                    log.warning("recorder %s channel %d: search failed: %s", cfg.id, n, exc)
            channels.append(
                RecorderChannel(
                    channel=n,
                    camera=cfg.channels.get(n),
                    enabled=enabled.get(n),
                    recording=False if enabled.get(n) is False else None,
                    oldest_ts=oldest if oldest is not None and oldest <= now else None,
                )  # fmt: skip
            )
        return disks, channels
    finally:
        s.close()


def health_of(cfg: RecorderConfig, now: float, seq: int, agent: str, result: Look | str) -> RecorderHealth:
    """The message for one look: its result, or the reason it failed."""
    if isinstance(result, str):
        return RecorderHealth(
            ts=now, seq=seq, agent=agent, api=cfg.api, online=False, error=result[:500], name=cfg.name
        )
    disks, channels = result
    starts = [c.oldest_ts for c in channels if c.oldest_ts is not None]
    # The channel keeping the least footage decides: that is the camera whose past an inquiry may miss.
    oldest = max(starts) if starts else None
    return RecorderHealth(
        ts=now,
        seq=seq,
        agent=agent,
        api=cfg.api,
        online=True,
        name=cfg.name,
        disks=disks,
        channels=channels,
        oldest_ts=oldest,
        days_kept=round((now - oldest) / DAY_S, 2) if oldest is not None else None,
    )


class RecorderWatcher:
    """Looks at every enabled recorder on its own schedule and hands each result to `send`."""

    def __init__(
        self,
        recorders: list[RecorderConfig],
        agent: str,
        send: Callable[[RecorderConfig, RecorderHealth], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recorders = [r for r in recorders if r.enabled]
        self.agent = agent
        self.send = send
        self.clock = clock
        self.seq = 0
        self.looks = 0
        self.failures = 0

    async def look_once(self, cfg: RecorderConfig) -> RecorderHealth:
        now = self.clock()
        # Each request has its timeout; the cap covers the whole look (a search per watched channel: one request
        # on ISAPI, five on Dahua's finder).
        cap = cfg.timeout_s * (4 + 5 * len(cfg.channels)) + 5
        result: Look | str
        try:
            result = await asyncio.wait_for(asyncio.to_thread(look, cfg, now), cap)
        except LookFailed as exc:
            result = str(exc)
        except TimeoutError:
            result = f"Đầu ghi không trả lời trong {cap:g} s"
        except Exception as exc:  # a bug or a library surprise must not end the watcher
            log.exception("recorder %s: look failed", cfg.id)
            result = f"Lỗi khi đọc đầu ghi: {type(exc).__name__}"
        self.looks += 1
        if isinstance(result, str):
            self.failures += 1
            log.warning("recorder %s: %s", cfg.id, result)
        seq, self.seq = self.seq, self.seq + 1
        health = health_of(cfg, now, seq, self.agent, result)
        await self.send(cfg, health)
        return health

    async def _one(self, cfg: RecorderConfig) -> None:
        while True:
            await self.look_once(cfg)
            await asyncio.sleep(cfg.interval_s)

    async def run(self) -> None:
        if not self.recorders:
            await asyncio.Event().wait()  # nothing to watch: stay alive like the other background tasks
        await asyncio.gather(*(self._one(r) for r in self.recorders))
