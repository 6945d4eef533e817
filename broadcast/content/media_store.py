"""Where the library's audio files live: processed MP3s (`media/{sha256}.mp3`, what receivers download) and the
originals (`originals/{sha256}.{ext}`). Names are relative to the store.

Several hubs serve `/media/…` behind one address, so every hub must reach every file. `FilesystemMediaStore` keeps
them in a folder (`broadcast.content.content_dir`; with several hubs a mount they all share). The next store is an
object store (S3/MinIO): `place` uploads, `local_path` gives None and the media route answers with a redirect to
the object's URL instead of the bytes; the files are immutable and named by their hash, so caching is safe.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class MediaStore(Protocol):
    def place(self, src: Path, name: str) -> None:
        """Moves a finished file in under `name` (atomically where the store can); an identical one is replaced."""

    def local_path(self, name: str) -> Path | None:
        """A file this process can serve as it is, or None when the store is not a filesystem."""


class FilesystemMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def place(self, src: Path, name: str) -> None:
        dest = self.root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)  # the job folder is on the same filesystem (tmp/ under the root)

    def local_path(self, name: str) -> Path | None:
        return self.root / name
