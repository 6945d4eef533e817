"""The agent's own retained status (birth message with inventory, and the offline Last Will)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

from contract import MAX_JSON_BYTES, CameraInfo, EdgeStatus, encode
from contract.configfile import ConfigError
from device_runtime.version import VERSION
from edge_agent.config import EdgeConfig


def inventory(config: EdgeConfig) -> list[CameraInfo]:
    return [
        CameraInfo(id=c.id, commune=config.commune_of(c), name=c.name, expected_fps=c.expected_fps)
        for c in config.enabled_cameras()
    ]


def status_payload(
    config: EdgeConfig,
    state: Literal["online", "offline"],
    ts: float,
    boot: str,
    queue: int | None = None,
    queue_dropped: int | None = None,
    worker_restarts: int | None = None,
    workers_failing: bool | None = None,
    disk_free_mb: float | None = None,
    orders_refused: dict[str, int] | None = None,
    queue_gap: tuple[float | None, float | None] = (None, None),
) -> bytes:
    """Online carries the camera count, queue length and inventory; offline (also the Last Will) stays small."""
    if state == "offline":
        return encode(EdgeStatus(state="offline", ts=ts, version=VERSION, boot=boot))
    cams = inventory(config)
    return encode(
        EdgeStatus(
            state="online",
            ts=ts,
            version=VERSION,
            boot=boot,
            cameras=len(cams),
            queue=queue,
            queue_dropped=queue_dropped,
            queue_gap_from=queue_gap[0],
            queue_gap_to=queue_gap[1],
            worker_restarts=worker_restarts,
            workers_failing=workers_failing,
            inventory=cams,
            disk_free_mb=disk_free_mb,
            orders_refused=orders_refused,
        )
    )


def free_mb(path: Path) -> float | None:
    """Free space of the disk holding `path` in MiB (one statvfs call), or None when it cannot be read."""
    try:
        return round(shutil.disk_usage(path).free / 2**20, 1)
    except OSError:
        return None


def check_publishable(config: EdgeConfig, source: str) -> None:
    """Refuse a config whose birth message the hub would refuse (too many or too long camera names)."""
    size = len(status_payload(config, "online", 1_700_000_000.0, "x" * 12, 0))
    if size > MAX_JSON_BYTES:
        raise ConfigError(
            source,
            [
                f"cameras: the inventory of {len(config.enabled_cameras())} enabled cameras makes a status message "
                f"of {size} bytes, over the contract's {MAX_JSON_BYTES}: split the cameras over more agents "
                "or shorten their names"
            ],
        )
