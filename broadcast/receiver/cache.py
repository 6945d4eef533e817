"""The receiver's audio cache: MP3 files by sha256 and their decoded PCM, evicted least-recently-used.

Files an airing needs are pinned from its `prepare` until it is over and are never evicted; everything else goes
oldest use first when the cache is over its size. Last use is the file's mtime (touched on every use), so the order
survives a restart. New files arrive through `tmp/` and an atomic rename: a power cut leaves at most a stray
temporary file (removed at the next start), never a half file under a final name.

All methods do blocking disk I/O: call them in a thread (the lock makes concurrent calls safe).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import Counter
from pathlib import Path

log = logging.getLogger(__name__)

MB = 1024 * 1024
HASH_CHUNK = 1024 * 1024


class CacheFull(OSError):
    """No room: what fills the cache is pinned by prepared airings."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class AudioCache:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self.mp3_dir = directory / "mp3"
        self.pcm_dir = directory / "pcm"
        self.tmp_dir = directory / "tmp"
        for d in (self.mp3_dir, self.pcm_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pins: Counter[str] = Counter()
        self._sizes: dict[Path, int] = {}
        self.evicted = 0
        for stray in self.tmp_dir.iterdir():
            stray.unlink(missing_ok=True)  # an interrupted download or decode from before a crash
        for d in (self.mp3_dir, self.pcm_dir):
            for f in d.iterdir():
                if f.is_file():
                    self._sizes[f] = f.stat().st_size

    # --- names ---------------------------------------------------------------------------------------------

    def mp3_path(self, sha256: str) -> Path:
        return self.mp3_dir / f"{sha256}.mp3"

    def pcm_path(self, sha256: str, rate: int) -> Path:
        return self.pcm_dir / f"{sha256}.{rate}.s16"

    def tmp_path(self, name: str) -> Path:
        return self.tmp_dir / f"{name}.{os.getpid()}.{threading.get_ident()}.part"

    @staticmethod
    def _sha_of(path: Path) -> str:
        return path.name.split(".", 1)[0]

    # --- pins ----------------------------------------------------------------------------------------------

    def pin(self, shas: list[str]) -> None:
        with self._lock:
            self._pins.update(shas)

    def unpin(self, shas: list[str]) -> None:
        with self._lock:
            self._pins.subtract(shas)
            for sha in [s for s, n in self._pins.items() if n <= 0]:
                del self._pins[sha]

    # --- lookups -------------------------------------------------------------------------------------------

    def valid_mp3(self, sha256: str, size: int) -> bool:
        """The file is here, the right size and hash (re-hashed: SD cards rot); a bad copy is removed."""
        path = self.mp3_path(sha256)
        try:
            if path.stat().st_size == size and sha256_of(path) == sha256:
                self.touch(path)
                return True
        except FileNotFoundError:
            return False
        log.warning("cached %s is damaged: removed, it will be downloaded again", path.name)
        self._remove(path)
        return False

    def has(self, path: Path) -> bool:
        if path.exists():
            self.touch(path)
            return True
        return False

    def touch(self, path: Path) -> None:
        now = time.time()
        try:
            os.utime(path, (now, now))
        except FileNotFoundError:
            pass

    # --- adding --------------------------------------------------------------------------------------------

    def make_room(self, incoming: int) -> None:
        """Evict unpinned files, least recently used first, until `incoming` more bytes fit."""
        with self._lock:
            total = sum(self._sizes.values())
            if total + incoming <= self.max_bytes:
                return
            candidates = []
            for path in self._sizes:
                if self._sha_of(path) in self._pins:
                    continue
                try:
                    candidates.append((path.stat().st_mtime, path))
                except FileNotFoundError:
                    candidates.append((0.0, path))
            candidates.sort()
            for _, path in candidates:
                if total + incoming <= self.max_bytes:
                    break
                total -= self._sizes.pop(path, 0)
                path.unlink(missing_ok=True)
                self.evicted += 1
                log.info("cache: evicted %s (least recently used)", path.name)
            if total + incoming > self.max_bytes:
                raise CacheFull(
                    f"cache {self.dir}: {incoming} bytes do not fit in {self.max_bytes} "
                    f"({total} bytes are pinned by prepared airings)"
                )

    def commit(self, tmp: Path, final: Path) -> None:
        """Atomically put a finished temporary file under its final name."""
        os.replace(tmp, final)
        size = final.stat().st_size
        with self._lock:
            self._sizes[final] = size

    def _remove(self, path: Path) -> None:
        with self._lock:
            self._sizes.pop(path, None)
        path.unlink(missing_ok=True)

    # --- figures -------------------------------------------------------------------------------------------

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    @property
    def size_mb(self) -> float:
        return round(self.size_bytes / MB, 2)
