"""Each camera's reference view: learned from its first healthy probes, kept on disk, re-learned on command.

The view problems (`moved`, `blurred`, `covered`) are judged against it, so every threshold is relative to
what this camera normally shows. A file holds the thumbnail and the two gain-free measures; it is tied to
the stream URL, so pointing a camera id at another stream learns afresh instead of raising `moved`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_agent.checks import PictureMetrics

log = logging.getLogger(__name__)

FORMAT = 1


@dataclass(frozen=True)
class Reference:
    thumb: np.ndarray = field(compare=False, repr=False)
    detail: float
    focus: float
    learned_at: float  # unix time
    probes: int  # healthy probes it was learned from
    chroma: tuple[float, float] | None = None  # mean colour (Lab a, b); None for gray streams and older files


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def learn(samples: list[PictureMetrics], now: float) -> Reference:
    """The reference from healthy probes: mean view, median measures (one odd probe does not set it)."""
    thumbs = [m.thumb for m in samples if m.thumb is not None]
    if len(thumbs) != len(samples) or not thumbs or any(t.shape != thumbs[0].shape for t in thumbs):
        raise ValueError("samples need thumbnails of one size")
    details = [m.detail for m in samples if m.detail is not None]
    focuses = [m.focus for m in samples if m.focus is not None]
    if len(details) != len(samples) or len(focuses) != len(samples):
        raise ValueError("samples need detail and focus measures")
    colours = [m.signal.chroma_ab for m in samples if m.signal is not None and m.signal.chroma_ab is not None]
    chroma = None
    if len(colours) == len(samples):
        chroma = (float(np.median([c[0] for c in colours])), float(np.median([c[1] for c in colours])))
    return Reference(
        chroma=chroma,
        thumb=np.mean(np.stack(thumbs), axis=0).astype(np.float32),
        detail=float(np.median(details)),
        focus=float(np.median(focuses)),
        learned_at=now,
        probes=len(samples),
    )


class ReferenceStore:
    """Reference views on disk, one file per camera. `directory` None: kept in memory only."""

    def __init__(self, directory: str | Path | None, base: Path | None = None) -> None:
        """A relative `directory` is taken from `base` (the config file's folder), like outbox.path."""
        self.directory_text = None if directory is None else str(directory)
        self.directory = None if directory is None else (base or Path.cwd()) / Path(directory)

    def _path(self, camera: str) -> Path | None:
        return self.directory / f"{camera}.npz" if self.directory is not None else None

    def load(self, camera: str, url: str) -> Reference | None:
        path = self._path(camera)
        if path is None or not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT or str(data["url"]) != url_key(url):
                    log.info("reference of %s is for another stream or format: learning afresh", camera)
                    return None
                thumb = np.asarray(data["thumb"], dtype=np.float32)
                ref = Reference(
                    thumb=thumb,
                    detail=float(data["detail"]),
                    focus=float(data["focus"]),
                    learned_at=float(data["learned_at"]),
                    probes=int(data["probes"]),
                    chroma=_chroma_of(data),
                )
        except (OSError, KeyError, ValueError, TypeError) as exc:
            log.warning("reference file %s unreadable (%s): learning afresh", path, exc)
            return None
        if thumb.ndim != 2 or min(thumb.shape) < 2 or not np.isfinite(thumb).all():
            log.warning("reference file %s holds a malformed view: learning afresh", path)
            return None
        if not (np.isfinite(ref.detail) and np.isfinite(ref.focus)):
            log.warning("reference file %s holds non-finite measures: learning afresh", path)
            return None
        return ref

    def save(self, camera: str, url: str, ref: Reference) -> None:
        """Atomically: a power cut leaves the old file or the new one, never half of one."""
        path = self._path(camera)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        with open(tmp, "wb") as f:
            np.savez(
                f,
                format=FORMAT,
                url=url_key(url),
                thumb=ref.thumb,
                detail=ref.detail,
                focus=ref.focus,
                learned_at=ref.learned_at,
                probes=ref.probes,
                chroma=np.asarray(ref.chroma if ref.chroma is not None else (), dtype=np.float32),
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def delete(self, camera: str) -> None:
        path = self._path(camera)
        if path is not None:
            path.unlink(missing_ok=True)


def _chroma_of(data: np.lib.npyio.NpzFile) -> tuple[float, float] | None:
    """The stored mean colour; files written before it was kept, and gray streams, have none."""
    if "chroma" not in data.files:
        return None
    values = np.asarray(data["chroma"], dtype=np.float32).ravel()
    if values.size != 2 or not np.isfinite(values).all():
        return None
    return float(values[0]), float(values[1])


def describe(ref: Reference) -> str:
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ref.learned_at))
    return f"learned {when} from {ref.probes} probes detail={ref.detail:.3f} focus={ref.focus:.2f}"
