"""Who may do what on the broker: one account per edge box, loudspeaker receiver and hub process, and the topic
rules each kind gets (pure functions; the backend that installs them is hub/core/dynsec.py).

An account's name is also its MQTT client id (the broker binds the two): `edge.{district}.{commune}.{id}`,
`speaker.{district}.{commune}.{id}`, `hub.{name}`. Slugs never hold a dot, so a name reads back unambiguously.

Cameras: a camera's topic names the camera and the commune where it stands, never its box, and MQTT tells a
subscriber nothing about who published. The broker can therefore tie camera topics to a box only by listing
them: a box may publish health and snapshots of any camera of the communes it serves (`communes`, by default
its own, all in its own district). One literal rule per camera would be possible, but then a camera added on
site is refused until the registry knows it; which box a camera belongs to is checked by the hub instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from contract.topics import is_slug

DeviceKind = Literal["edge", "speaker", "hub"]
KINDS: tuple[DeviceKind, ...] = ("edge", "speaker", "hub")
PREFIX = "ops/v1"

# Dynamic-security ACL types (the same names serve the EMQX backend described in docs/SECURITY.md).
SEND = "publishClientSend"
RECEIVE = "publishClientReceive"
SUB_LITERAL = "subscribeLiteral"
SUB_PATTERN = "subscribePattern"


class AccountError(ValueError):
    """A device reference that cannot name an account; the message is for the operator."""


@dataclass(frozen=True)
class Acl:
    acltype: str
    topic: str
    allow: bool = True

    def as_dict(self) -> dict[str, object]:
        return {"acltype": self.acltype, "topic": self.topic, "allow": self.allow}


@dataclass(frozen=True)
class DeviceRef:
    """A device with a broker account: an edge box or receiver (district, commune, id) or a hub process (id)."""

    kind: DeviceKind
    slug: str
    district: str | None = None
    commune: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AccountError(f"kind {self.kind!r}: one of {', '.join(KINDS)}")
        parts = [self.slug] if self.kind == "hub" else [self.district or "", self.commune or "", self.slug]
        for p in parts:
            if not is_slug(p):
                raise AccountError(f"{p!r} is not a valid code (lowercase letters, digits, '_' or '-')")
        if self.kind == "hub" and (self.district or self.commune):
            raise AccountError("a hub account has a name only, no district or commune")

    @classmethod
    def parse(cls, kind: str, key: str) -> DeviceRef:
        """`edge` + `district/commune/id`, or `hub` + `name`."""
        if kind not in KINDS:
            raise AccountError(f"kind {kind!r}: one of {', '.join(KINDS)}")
        if kind == "hub":
            return cls("hub", key)
        parts = key.split("/")
        if len(parts) != 3:
            raise AccountError(f"{key!r}: write the device as district/commune/id")
        return cls(kind, parts[2], parts[0], parts[1])

    @property
    def key(self) -> str:
        """The registry key (`district/commune/id`), or the hub process name."""
        return self.slug if self.kind == "hub" else f"{self.district}/{self.commune}/{self.slug}"

    @property
    def username(self) -> str:
        return ".".join(
            [self.kind, *([] if self.kind == "hub" else [self.district or "", self.commune or ""]), self.slug]
        )

    @property
    def client_id(self) -> str:
        return self.username

    @property
    def role(self) -> str:
        return f"device.{self.username}"


def _topic(district: str, commune: str, kind: str, slug: str, channel: str) -> str:
    return f"{PREFIX}/{district}/{commune}/{kind}/{slug}/{channel}"


def device_acls(ref: DeviceRef, communes: Iterable[str] = ()) -> list[Acl]:
    """The topic rules of one account. Everything not listed is refused (the broker's default is deny)."""
    if ref.kind == "hub":
        return hub_acls()
    d, c = ref.district or "", ref.commune or ""
    own = ref.kind
    acls: list[Acl] = []
    sends = ("status", "reply") if own == "edge" else ("status", "health", "event")
    acls += [Acl(SEND, _topic(d, c, own, ref.slug, ch)) for ch in sends]
    cmd = _topic(d, c, own, ref.slug, "cmd")
    acls += [Acl(SUB_LITERAL, cmd), Acl(RECEIVE, cmd)]
    if own == "edge":
        served = list(dict.fromkeys([c, *communes]))
        for commune in served:
            if not is_slug(commune):
                raise AccountError(f"commune {commune!r} is not a valid code")
            acls += [Acl(SEND, _topic(d, commune, "camera", "+", ch)) for ch in ("health", "snapshot")]
            acls.append(Acl(SEND, _topic(d, commune, "recorder", "+", "health")))  # the NVRs it watches
    return acls


def hub_acls() -> list[Acl]:
    """A hub process reads every device's traffic and writes commands; it also clears what the broker retains
    for a removed device (an empty retained status or snapshot)."""
    return [
        Acl(SUB_PATTERN, f"{PREFIX}/#"),
        Acl(SUB_PATTERN, f"$share/+/{PREFIX}/#"),
        Acl(RECEIVE, f"{PREFIX}/#"),
        Acl(SEND, f"{PREFIX}/+/+/edge/+/cmd"),
        Acl(SEND, f"{PREFIX}/+/+/speaker/+/cmd"),
        Acl(SEND, f"{PREFIX}/+/+/edge/+/status"),
        Acl(SEND, f"{PREFIX}/+/+/speaker/+/status"),
        Acl(SEND, f"{PREFIX}/+/+/camera/+/snapshot"),
    ]


CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"


def admin_acls() -> list[Acl]:
    """The hub's administrative account: it only talks to the broker's account plugin."""
    return [
        Acl(SEND, CONTROL_TOPIC),
        Acl(SUB_LITERAL, f"{CONTROL_TOPIC}/response"),
        Acl(RECEIVE, f"{CONTROL_TOPIC}/response"),
    ]


@dataclass(frozen=True)
class BrokerAccount:
    """What the broker must know of one account (never its password: that is passed alongside, once)."""

    username: str
    client_id: str | None
    role: str
    acls: list[Acl] = field(default_factory=list)
    text_name: str = ""


def account_for(ref: DeviceRef, communes: Iterable[str] = (), text_name: str = "") -> BrokerAccount:
    return BrokerAccount(ref.username, ref.client_id, ref.role, device_acls(ref, communes), text_name)
