"""MQTT topic layout v1: `ops/v1/{district}/{commune}/{kind}/{id}/{channel}`.

Every producer and consumer builds and parses topics here, so a typo cannot create a topic that nobody
subscribes to (Frigate's lesson: unregistered topics drop silently).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "ops"
VERSION = "v1"
ROOT = f"{PREFIX}/{VERSION}"

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
SLUG_MAX = 64


class Kind(StrEnum):
    EDGE = "edge"
    CAMERA = "camera"
    SPEAKER = "speaker"
    RECORDER = "recorder"  # an NVR/DVR, watched by the edge agent beside it


class Channel(StrEnum):
    STATUS = "status"
    HEALTH = "health"
    SNAPSHOT = "snapshot"
    CMD = "cmd"
    REPLY = "reply"
    EVENT = "event"


# Which channels exist for which kind; anything else is a contract violation.
CHANNELS: dict[Kind, frozenset[Channel]] = {
    Kind.EDGE: frozenset({Channel.STATUS, Channel.CMD, Channel.REPLY}),
    Kind.CAMERA: frozenset({Channel.HEALTH, Channel.SNAPSHOT}),
    Kind.SPEAKER: frozenset({Channel.STATUS, Channel.HEALTH, Channel.CMD, Channel.EVENT}),
    Kind.RECORDER: frozenset({Channel.HEALTH}),
}

# Channels the hub consumes (device → hub). cmd goes the other way.
INBOUND: frozenset[tuple[Kind, Channel]] = frozenset(
    {
        (Kind.EDGE, Channel.STATUS),
        (Kind.EDGE, Channel.REPLY),
        (Kind.CAMERA, Channel.HEALTH),
        (Kind.CAMERA, Channel.SNAPSHOT),
        (Kind.SPEAKER, Channel.STATUS),
        (Kind.SPEAKER, Channel.HEALTH),
        (Kind.SPEAKER, Channel.EVENT),
        (Kind.RECORDER, Channel.HEALTH),
    }
)

RETAINED: frozenset[tuple[Kind, Channel]] = frozenset(
    {(Kind.EDGE, Channel.STATUS), (Kind.CAMERA, Channel.SNAPSHOT), (Kind.SPEAKER, Channel.STATUS)}
)


class TopicError(ValueError):
    """A topic that does not follow the v1 layout."""


def is_slug(value: str) -> bool:
    return len(value) <= SLUG_MAX and SLUG_RE.fullmatch(value) is not None


def check_slug(value: str, what: str = "id") -> str:
    if not is_slug(value):
        raise TopicError(
            f"{what} {value!r} is not a slug: use lowercase letters, digits, '_' or '-', "
            f"starting with a letter or digit, at most {SLUG_MAX} characters"
        )
    return value


@dataclass(frozen=True, slots=True)
class Topic:
    district: str
    commune: str
    kind: Kind
    id: str
    channel: Channel

    def __str__(self) -> str:
        return f"{ROOT}/{self.district}/{self.commune}/{self.kind.value}/{self.id}/{self.channel.value}"

    @property
    def retained(self) -> bool:
        return (self.kind, self.channel) in RETAINED

    def sibling(self, channel: Channel) -> Topic:
        return build(self.district, self.commune, self.kind, self.id, channel)


def build(district: str, commune: str, kind: Kind | str, device_id: str, channel: Channel | str) -> Topic:
    try:
        k = Kind(kind)
    except ValueError as exc:
        raise TopicError(f"unknown kind {kind!r}; expected one of {[x.value for x in Kind]}") from exc
    try:
        c = Channel(channel)
    except ValueError as exc:
        raise TopicError(f"unknown channel {channel!r}") from exc
    if c not in CHANNELS[k]:
        allowed = sorted(x.value for x in CHANNELS[k])
        raise TopicError(
            f"channel {c.value!r} does not exist for kind {k.value!r}; expected one of {allowed}"
        )
    check_slug(district, "district")
    check_slug(commune, "commune")
    check_slug(device_id, f"{k.value} id")
    return Topic(district, commune, k, device_id, c)


def parse(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) != 7 or parts[0] != PREFIX or parts[1] != VERSION:
        raise TopicError(
            f"topic {topic!r} does not match {ROOT}/{{district}}/{{commune}}/{{kind}}/{{id}}/{{channel}}"
        )
    return build(parts[2], parts[3], parts[4], parts[5], parts[6])


def camera_health(district: str, commune: str, camera: str) -> Topic:
    return build(district, commune, Kind.CAMERA, camera, Channel.HEALTH)


def camera_snapshot(district: str, commune: str, camera: str) -> Topic:
    return build(district, commune, Kind.CAMERA, camera, Channel.SNAPSHOT)


def edge_status(district: str, commune: str, agent: str) -> Topic:
    return build(district, commune, Kind.EDGE, agent, Channel.STATUS)


def edge_cmd(district: str, commune: str, agent: str) -> Topic:
    return build(district, commune, Kind.EDGE, agent, Channel.CMD)


def edge_reply(district: str, commune: str, agent: str) -> Topic:
    return build(district, commune, Kind.EDGE, agent, Channel.REPLY)


def recorder_health(district: str, commune: str, recorder: str) -> Topic:
    return build(district, commune, Kind.RECORDER, recorder, Channel.HEALTH)


def speaker_topic(district: str, commune: str, speaker: str, channel: Channel) -> Topic:
    return build(district, commune, Kind.SPEAKER, speaker, channel)


def hub_subscriptions(district: str | None = None) -> list[str]:
    """Topic filters the hub subscribes to: every district's, or one district's (a partition of the device
    traffic when several hubs share it, docs/ARCHITECTURE.md "Scale plan")."""
    area = "+" if district is None else check_slug(district, "district")
    return sorted({f"{ROOT}/{area}/+/{k.value}/+/{c.value}" for k, c in INBOUND})


def edge_cmd_filter(district: str, commune: str, agent: str) -> str:
    return str(edge_cmd(district, commune, agent))
