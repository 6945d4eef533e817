"""Fetch a playlist item from the hub into the cache: allow-list, size cap, sha256, atomic rename, retries."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import posixpath
import ssl
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import aiohttp

from broadcast.receiver.cache import AudioCache
from broadcast.receiver.config import HubSection
from contract import FailReason, PlaylistItem

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
WRITE_BATCH = 1024 * 1024  # bytes gathered before one write in the disk thread


class PrepareError(Exception):
    """A playlist that cannot be made ready: the reason code and a Vietnamese message for people."""

    def __init__(self, reason: FailReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def url_allowed(url: str, bases: list[str]) -> bool:
    """Same scheme, host and port as one base URL, and a path under its path (no `..` escapes)."""
    try:
        parts = urlsplit(url)
        origin = _origin(url)
    except ValueError:
        return False
    if parts.username or parts.password:
        return False
    path = unquote(parts.path)
    if ".." in path.split("/"):
        return False
    path = posixpath.normpath(path) if path else "/"
    for base in bases:
        if _origin(base) != origin:
            continue
        base_path = urlsplit(base).path or "/"
        prefix = base_path if base_path.endswith("/") else base_path + "/"
        if path == base_path.rstrip("/") or path.startswith(prefix) or prefix == "/":
            return True
    return False


class Downloader:
    def __init__(self, cache: AudioCache, hub: HubSection, https: ssl.SSLContext | None = None) -> None:
        self.cache = cache
        self.hub = hub
        self.https = https  # trust for https:// media URLs (the deployment's CA besides the system's)
        self._session: aiohttp.ClientSession | None = None
        self.downloads = 0
        self.retries = 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(
                total=None, connect=self.hub.connect_timeout_s, sock_read=self.hub.read_timeout_s
            )
            connector = aiohttp.TCPConnector(ssl=self.https) if self.https is not None else None
            self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False, connector=connector)
        return self._session

    async def ensure(self, item: PlaylistItem) -> int:
        """The item's MP3 is in the cache, verified; the bytes downloaded for it (0 when it was cached)."""
        if not url_allowed(item.url, self.hub.allowed_urls):
            raise PrepareError(
                FailReason.HOST_NOT_ALLOWED,
                f"Địa chỉ tải {item.url} không nằm trong danh sách máy chủ được phép",
            )
        if await asyncio.to_thread(self.cache.valid_mp3, item.sha256, item.size):
            return 0
        try:
            await asyncio.to_thread(self.cache.make_room, item.size)
        except OSError as exc:
            raise PrepareError(FailReason.DISK, f"Bộ nhớ đệm đầy, không tải được tệp: {exc}") from exc
        attempt = 0
        while True:
            try:
                await self._fetch_once(item)
            except PrepareError as exc:
                if exc.reason != FailReason.DOWNLOAD or attempt >= self.hub.retries:
                    raise
                delay = self.hub.retry_backoff_s * (2**attempt)
                attempt += 1
                self.retries += 1
                log.warning(
                    "download %s failed (%s): attempt %d in %.1f s", item.url, exc, attempt + 1, delay
                )
                await asyncio.sleep(delay)
            else:
                self.downloads += 1
                return item.size

    async def _fetch_once(self, item: PlaylistItem) -> None:
        tmp = self.cache.tmp_path(item.sha256)
        f: BinaryIO = await asyncio.to_thread(tmp.open, "wb")
        try:
            digest = await self._stream(item, f)
            await asyncio.to_thread(_sync_close, f)
            if digest != item.sha256:
                raise PrepareError(
                    FailReason.CHECKSUM,
                    f"Tệp tải về sai mã kiểm tra sha256 (nhận {digest[:12]}…, cần {item.sha256[:12]}…)",
                )
            await asyncio.to_thread(self.cache.commit, tmp, self.cache.mp3_path(item.sha256))
        except BaseException:
            await asyncio.to_thread(_discard, f, tmp)
            raise

    async def _stream(self, item: PlaylistItem, f: BinaryIO) -> str:
        h = hashlib.sha256()
        got = 0
        pending: list[bytes] = []
        pending_bytes = 0
        try:
            async with self._client().get(item.url, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise PrepareError(
                        FailReason.DOWNLOAD, f"Máy chủ trả lời HTTP {resp.status} khi tải {item.url}"
                    )
                if resp.content_length is not None and resp.content_length != item.size:
                    raise PrepareError(
                        FailReason.SIZE,
                        f"Tệp trên máy chủ dài {resp.content_length} byte, lệnh ghi {item.size} byte",
                    )
                async for chunk in resp.content.iter_chunked(CHUNK):
                    got += len(chunk)
                    if got > item.size:
                        raise PrepareError(
                            FailReason.SIZE, f"Tệp tải về dài hơn {item.size} byte đã khai báo"
                        )
                    h.update(chunk)
                    pending.append(chunk)
                    pending_bytes += len(chunk)
                    if pending_bytes >= WRITE_BATCH:
                        await asyncio.to_thread(f.write, b"".join(pending))
                        pending, pending_bytes = [], 0
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PrepareError(FailReason.DOWNLOAD, f"Lỗi mạng khi tải {item.url}: {exc!r}") from exc
        if pending:
            await asyncio.to_thread(f.write, b"".join(pending))
        if got != item.size:
            # A connection cut short without an error: worth another attempt.
            raise PrepareError(FailReason.DOWNLOAD, f"Tải được {got}/{item.size} byte thì mất kết nối")
        return h.hexdigest()


def _sync_close(f: BinaryIO) -> None:
    f.flush()
    os.fsync(f.fileno())
    f.close()


def _discard(f: BinaryIO, tmp: Path) -> None:
    f.close()
    tmp.unlink(missing_ok=True)
