"""The `broadcast.bulletins` section of the hub config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from contract.configfile import StrictModel


class BulletinsConfig(StrictModel):
    inbox_dir: Path | None = Field(
        default=None,
        description="Watched folder for bulletins (relative: under data_dir); unset: no folder intake",
    )
    account: str = Field(
        default="nguon-tin-tinh", min_length=1, max_length=64,
        description="Name recorded as the author of what the folder lands (audit log, programmes)",
    )  # fmt: skip
    poll_s: float = Field(default=10.0, ge=1, le=3600, description="How often the folder is looked at")
    emergency: Literal["approval", "air_now"] = Field(
        default="approval",
        description="Level 3 (khẩn cấp): wait for approval like the others, or air at once and review afterwards",
    )

    def directory(self, data_dir: Path) -> Path | None:
        if self.inbox_dir is None:
            return None
        return self.inbox_dir if self.inbox_dir.is_absolute() else data_dir / self.inbox_dir
