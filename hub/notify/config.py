"""The `notify:` section of the hub configuration: channels (Zalo OA, Zalo Bot), group directory, routes,
quiet hours, retries and the daily digest. Secrets come from the environment (`${ZALO_OA_SECRET}` …)."""

from __future__ import annotations

import re
from datetime import time

from pydantic import ConfigDict, Field, field_validator, model_validator

from contract.configfile import StrictModel
from hub.core.config import CoreConfig, feature_section
from hub.core.facts import FactKind, Severity

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
GROUP_REFS = ("@police", "@officers", "@province")  # looked up per notice in `groups`
CHAT_REFS = ("@oncall",)

CAMERA_KINDS = (
    FactKind.CAMERA_OFFLINE,
    FactKind.CAMERA_PROBLEM,
    FactKind.AGENT_OFFLINE,
    FactKind.AGENT_BACKLOG,
    FactKind.AGENT_DISK_LOW,
    FactKind.RECORDER_OFFLINE,
    FactKind.RECORDER_DISK_FAILED,
    FactKind.RECORDER_NOT_RECORDING,
    FactKind.RECORDER_FOOTAGE_SHORT,
)
BROADCAST_KINDS = (
    FactKind.SPEAKER_OFFLINE,
    FactKind.SPEAKER_AMPLIFIER,
    FactKind.SPEAKER_SIGNAL_WEAK,
    FactKind.SPEAKER_DISK_LOW,
    FactKind.SPEAKER_CONTENT_MISSING,
    FactKind.SPEAKER_LEVEL_LOW,
    FactKind.SPEAKER_CLOCK_OFF,
    FactKind.RELAY_UPSTREAM_LOST,
    FactKind.BROADCAST_FAILED,
    FactKind.BROADCAST_PARTIAL,
)


def parse_hhmm(value: str) -> time:
    m = _HHMM.match(value)
    if m is None:
        raise ValueError(f"{value!r} is not a local time HH:MM (00:00–23:59)")
    return time(int(m.group(1)), int(m.group(2)))


class QuietHours(StrictModel):
    """Local time range in which non-critical notices wait (they are held, never dropped)."""

    start: str = Field(description="Local HH:MM when quiet hours begin, e.g. 22:00")
    end: str = Field(description="Local HH:MM when they end, e.g. 06:00 (may be on the next day)")

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end are the same time")
        return self


class Receiver(StrictModel):
    """Exactly one of: an OA group (a group id, or @police / @officers for the notice's district/commune group
    from `groups`), or a Bot chat (a chat id, or @oncall for the district's on-call officers)."""

    oa_group: str | None = Field(default=None, min_length=1, max_length=100)
    bot_chat: str | None = Field(default=None, min_length=1, max_length=100)
    name: str = Field(default="", max_length=200, description="What people call it (shown in the outbox)")

    @model_validator(mode="after")
    def _one(self) -> Receiver:
        if (self.oa_group is None) == (self.bot_chat is None):
            raise ValueError("give exactly one of oa_group or bot_chat")
        for v, refs in ((self.oa_group, GROUP_REFS), (self.bot_chat, CHAT_REFS)):
            if v is not None and v.startswith("@") and v not in refs:
                raise ValueError(f"{v!r}: unknown reference (known: {', '.join(refs)})")
        return self


class EscalationConfig(StrictModel):
    """An alert of this route nobody acknowledged within `after_min` goes to the next level's receivers (commune →
    province command centre): once, with the devices still firing and unacknowledged."""

    after_min: float = Field(gt=0, le=7 * 24 * 60, description="Minutes after the firing notice")
    receivers: list[Receiver] = Field(
        min_length=1, description="The next level, e.g. {oa_group: '@province'}"
    )


class RouteConfig(StrictModel):
    """A route matches a notice when every given list holds the notice's value (an empty list matches all).
    Routes are tried in order; the first match is used unless it says `continue: true` (as in Alertmanager)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=100)
    districts: list[str] = Field(default_factory=list)
    communes: list[str] = Field(default_factory=list, description="commune slugs (any district)")
    kinds: list[FactKind] = Field(default_factory=list)
    severities: list[Severity] = Field(default_factory=list)
    receivers: list[Receiver] = Field(min_length=1)
    continue_matching: bool = Field(default=False, alias="continue")
    quiet_hours: QuietHours | None = None
    digest: bool = Field(default=True, description="Its receivers also get the daily digest")
    escalate: EscalationConfig | None = Field(
        default=None, description="Unacknowledged after N minutes: to the next level (docs/NOTIFY.md)"
    )


class OaConfig(StrictModel):
    """Zalo Official Account (GMF group messages). Without app_id, secret_key and a token it runs dry."""

    app_id: str | None = None
    secret_key: str | None = None
    refresh_token: str | None = Field(
        default=None,
        description="Seeds the token store on first start; a different value later replaces the stored one "
        "(after a re-authorisation). The store keeps the newest token: it is single-use.",
    )
    access_token: str | None = Field(default=None, description="Optional initial access token")
    base_url: str = "https://openapi.zalo.me"
    oauth_url: str = "https://oauth.zaloapp.com"
    timeout_s: float = Field(default=15.0, gt=0, le=120)
    attach_snapshot: bool = True

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self.secret_key and (self.refresh_token or self.access_token))

    @model_validator(mode="after")
    def _all_or_nothing(self) -> OaConfig:
        # Half a set of keys would silently run dry: name what is missing instead.
        given = {"app_id": self.app_id, "secret_key": self.secret_key, "refresh_token": self.refresh_token}
        if any(given.values()) or self.access_token:
            if self.access_token:
                given["refresh_token"] = given["refresh_token"] or self.access_token
            missing = [k for k, v in given.items() if not v]
            if missing:
                raise ValueError(
                    f"Zalo OA keys go together; missing: {', '.join(missing)} (or give none: dry run)"
                )
        return self


class BotConfig(StrictModel):
    """Zalo Bot Platform, for direct messages to on-call officers (text with the link; see docs/NOTIFY.md)."""

    token: str | None = None
    base_url: str = "https://bot-api.zaloplatforms.com"
    timeout_s: float = Field(default=15.0, gt=0, le=120)

    @property
    def configured(self) -> bool:
        return bool(self.token)


class GroupDirectory(StrictModel):
    police: dict[str, str] = Field(default_factory=dict, description="district slug → OA group id")
    officers: dict[str, str] = Field(
        default_factory=dict, description="'district/commune' → OA group id of the commune officers"
    )
    province: str | None = Field(
        default=None, description="OA group id of the province command centre (@province)"
    )
    oncall: dict[str, list[str]] = Field(
        default_factory=dict, description="district slug (or '*' for all) → Bot chat ids of on-call officers"
    )


class RetryConfig(StrictModel):
    base_s: float = Field(default=10.0, gt=0, le=3600, description="First retry delay; doubles each time")
    max_s: float = Field(default=900.0, gt=0, le=24 * 3600)
    max_attempts: int = Field(default=10, ge=1, le=100, description="Then the row is dead (shown, retryable)")
    rate_limit_s: float = Field(default=60.0, gt=0, le=3600, description="Least delay after error -32")


class DigestConfig(StrictModel):
    enabled: bool = True
    at: str = Field(default="07:00", description="Local HH:MM")
    down_over_h: float = Field(default=24.0, gt=0, description="Cameras down longer than this are listed")

    @field_validator("at")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parse_hhmm(v)
        return v


def default_routes() -> list[RouteConfig]:
    return [
        RouteConfig(
            name="channel-failing",
            kinds=[FactKind.CHANNEL_FAILING],
            receivers=[Receiver(bot_chat="@oncall", name="Trực ban")],
            digest=False,
        ),
        RouteConfig(
            name="district-police",
            kinds=list(CAMERA_KINDS),
            receivers=[Receiver(oa_group="@police", name="Nhóm công an huyện")],
            continue_matching=True,
        ),
        RouteConfig(
            name="commune-officers",
            kinds=list(BROADCAST_KINDS),
            receivers=[Receiver(oa_group="@officers", name="Nhóm cán bộ xã")],
            continue_matching=True,
        ),
        RouteConfig(
            name="oncall-critical",
            severities=[Severity.CRITICAL],
            receivers=[Receiver(bot_chat="@oncall", name="Trực ban")],
            digest=False,
        ),
    ]


class NotifyConfig(StrictModel):
    enabled: bool = Field(default=True, description="false: notices are not even stored")
    dry_run: bool = Field(
        default=False, description="Render and store, never send (also automatic for a channel without keys)"
    )
    oa: OaConfig = Field(default_factory=OaConfig)
    bot: BotConfig = Field(default_factory=BotConfig)
    groups: GroupDirectory = Field(default_factory=GroupDirectory)
    routes: list[RouteConfig] = Field(default_factory=default_routes)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    max_chars: int = Field(default=2000, ge=200, le=2000, description="Zalo's text limit")
    send_concurrency: int = Field(default=4, ge=1, le=32)
    keep_days: float = Field(
        default=90, gt=0, le=3650, description="Finished outbox rows are deleted after this many days"
    )


def notify_settings(config: CoreConfig) -> NotifyConfig:
    """The `notify` section of the hub config."""
    return feature_section(config, "notify", NotifyConfig)
