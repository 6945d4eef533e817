"""The `scheduled_reports:` section of the hub configuration: when reports are made, who receives them (Zalo OA
groups and e-mail addresses per commune or for the whole hub), the SMTP server, retries and how long files are
kept. The SMTP password is a secret: give it as `${SMTP_PASSWORD}`; it is never printed (SecretStr)."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from contract.configfile import StrictModel
from hub.core.config import CoreConfig, feature_section

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_AREA = re.compile(r"^([a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*)?$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
Kind = Literal["weekly", "monthly"]


def _all_kinds() -> list[Kind]:
    return ["weekly", "monthly"]


class SmtpConfig(StrictModel):
    host: str | None = Field(
        default=None, description="SMTP server; none: e-mail is not sent (shown as such)"
    )
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS before logging in")
    ca_file: Path | None = Field(
        default=None,
        description="CA certificate of a private mail server (default: the system's trusted CAs)",
    )
    user: str | None = None
    password: SecretStr | None = Field(default=None, description="Give it as ${SMTP_PASSWORD}")
    from_addr: str = Field(default="bao-cao@localhost", description="The From: address")
    timeout_s: float = Field(default=30.0, gt=0, le=300)

    @field_validator("password", mode="before")
    @classmethod
    def _unset(cls, v: object) -> object:
        return None if v == "" else v  # ${SMTP_PASSWORD:-} with nothing in the environment

    @model_validator(mode="after")
    def _login_pair(self) -> SmtpConfig:
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password must be given together")
        return self

    @property
    def configured(self) -> bool:
        return self.host is not None


class Recipients(StrictModel):
    """Who gets the reports of one area: `area` is "district/commune", or "" for the whole hub (province)."""

    area: str = Field(default="", description='"district/commune", or "" for the report of the whole hub')
    zalo_groups: list[str] = Field(default_factory=list, description="Zalo OA group ids (the leaders' group)")
    emails: list[str] = Field(default_factory=list)

    @field_validator("area")
    @classmethod
    def _area(cls, v: str) -> str:
        if not _AREA.match(v):
            raise ValueError(f'{v!r} is not "district/commune" (slugs) or ""')
        return v

    @field_validator("zalo_groups", "emails", mode="before")
    @classmethod
    def _drop_empty(cls, v: object) -> object:
        # "${ZALO_GROUP_LEADERS:-}" with nothing in the environment: no receiver rather than a bad one
        return [x for x in v if x != ""] if isinstance(v, list) else v

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for x in v:
            if not _EMAIL.match(x):
                raise ValueError(f"{x!r} is not an e-mail address")
        return v


class RetryConfig(StrictModel):
    max_attempts: int = Field(default=8, ge=1, le=50)
    base_s: float = Field(default=60.0, gt=0, description="Wait before the second try; doubles each time")
    max_s: float = Field(default=6 * 3600.0, gt=0)


class ScheduledReportsConfig(StrictModel):
    enabled: bool = True
    at: str = Field(default="07:00", description="Local HH:MM on Monday (weekly) and the 1st (monthly)")
    kinds: list[Kind] = Field(default_factory=_all_kinds, description="weekly, monthly")
    communes: bool = Field(default=True, description="A report per commune with cameras, besides the hub's")
    worst: int = Field(default=10, ge=1, le=100, description="Worst cameras and longest outages listed")
    recipients: list[Recipients] = Field(default_factory=list)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    keep_days: float = Field(default=400.0, gt=0, description="Report files older than this are deleted")
    dir: Path | None = Field(default=None, description="Where files are kept (default: data_dir/reports)")
    public_cache_s: int = Field(default=300, ge=10, le=3600, description="How long the public page is cached")

    @field_validator("at")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"{v!r} is not a local time HH:MM")
        return v

    @property
    def at_time(self) -> time:
        h, m = self.at.split(":")
        return time(int(h), int(m))

    def directory(self, data_dir: Path) -> Path:
        return self.dir if self.dir is not None else data_dir / "reports"

    def recipients_of(self, district: str, commune: str) -> list[Recipients]:
        area = f"{district}/{commune}" if commune else ""
        return [r for r in self.recipients if r.area == area]


def reports_settings(config: CoreConfig) -> ScheduledReportsConfig:
    return feature_section(config, "scheduled_reports", ScheduledReportsConfig)
