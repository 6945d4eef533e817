"""Signed orders: the envelope every hub → device command travels in (`edge/{agent}/cmd`, `speaker/{id}/cmd`).

A broker is a relay, not an authority: whoever can publish on a command topic (a stolen box's account, a
broker compromise) must not be able to make a loudspeaker speak or a box forget its reference views. So the
hub signs every order with its Ed25519 key and devices obey only what verifies against the hub's public key
they were given by config:

    {"order": {…EdgeCommand or SpeakerCommand…}, "target": "yen_dinh/dinh_long/speaker/loa-01",
     "seq": 1763880000123456, "expires": 1763880300.0, "sig": "<base64 Ed25519 signature>"}

The signature covers the RFC 8785 (JCS) canonical JSON of `{order, target, seq, expires}` behind a fixed
prefix, so it binds the order to one device (`target`), to a time window (`expires`) and to a place in the
hub's sequence (`seq`, which a device must see grow: a replay is refused). A prepare's media sha256 is part
of the order, so the hub, not the broker, says which file may play.

Used by the hub (`sign_order`) and by both device programs (`open_order`); device_runtime/orders.py keeps the
last sequence on the device's disk.
"""

from __future__ import annotations

import base64
import binascii
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, ValidationError

from contract.payloads import (
    MAX_JSON_BYTES,
    EdgeCommand,
    Model,
    Timestamp,
    format_validation_error,
)
from contract.speaker_payloads import SpeakerCommand
from contract.topics import Channel, Kind, Topic

# Domain separation: a signature made for an order can never be mistaken for one over anything else.
SIGNING_PREFIX = b"commune-ops/v1 order\n"
MAX_SEQ = 2**53 - 1  # JSON numbers stay exact in every language up to here (RFC 8785 refuses more)

ORDER_MODELS: dict[Kind, type[EdgeCommand] | type[SpeakerCommand]] = {
    Kind.EDGE: EdgeCommand,
    Kind.SPEAKER: SpeakerCommand,
}


class Refusal(StrEnum):
    """Why a device refused an order (keys of `orders_refused` in its status/health)."""

    INVALID = "invalid"  # not an envelope, or the order inside breaks the contract
    UNSIGNED = "unsigned"  # a bare command with no signature (the pre-signing format, or a forgery)
    BAD_SIGNATURE = "bad_signature"  # does not verify against the hub's public key
    MISADDRESSED = "misaddressed"  # signed for another device (or another topic)
    EXPIRED = "expired"  # `expires` has passed on the device's clock
    REPLAYED = "replayed"  # `seq` not above the last order this device accepted
    NO_KEY = "no_key"  # the device has no hub public key configured: it obeys nobody


class SignedOrder(Model):
    """The envelope on every `cmd` topic. `order` is the command (EdgeCommand / SpeakerCommand JSON)."""

    order: dict[str, Any] = Field(description="The command: EdgeCommand (edge) or SpeakerCommand (speaker)")
    target: str = Field(
        max_length=300,
        pattern=r"^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_-]*/(edge|speaker)/[a-z0-9][a-z0-9_-]*$",
        description="The device it is for: {district}/{commune}/{kind}/{id}, as in its command topic",
    )
    seq: int = Field(
        ge=1, le=MAX_SEQ, description="Grows with every order the hub signs; a device refuses one not above "
        "the last it accepted"
    )  # fmt: skip
    expires: Timestamp = Field(description="Refused after this time (device clock, epoch seconds UTC)")
    sig: str = Field(
        min_length=80, max_length=100, description="Base64 Ed25519 signature of the canonical form"
    )


class OrderRefused(Exception):
    """An order a device must not carry out. `order` is the order's JSON when the hub's signature on it
    verified (expired, replayed, misaddressed, or breaking the contract): only then may the device answer it,
    with the transaction read from it. An unverified message gets no answer at all."""

    def __init__(self, reason: Refusal, detail: str, order: dict[str, Any] | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.order = order

    @property
    def transaction(self) -> str | None:
        tx = self.order.get("transaction") if self.order is not None else None
        return tx if isinstance(tx, str) and 1 <= len(tx) <= 64 else None


def target_of(topic: Topic) -> str:
    """The device key an order on `topic` must carry."""
    return f"{topic.district}/{topic.commune}/{topic.kind.value}/{topic.id}"


def signing_bytes(order: dict[str, Any], target: str, seq: int, expires: float) -> bytes:
    """What the signature covers: the prefix, then RFC 8785 canonical JSON of the four fields."""
    return SIGNING_PREFIX + rfc8785.dumps({"order": order, "target": target, "seq": seq, "expires": expires})


def sign_order(key: Ed25519PrivateKey, order: Model, topic: Topic, seq: int, expires: float) -> bytes:
    """The wire payload of `order` for the device of `topic` (a `cmd` topic)."""
    if topic.channel is not Channel.CMD or not isinstance(order, ORDER_MODELS.get(topic.kind, ())):
        raise ValueError(f"{type(order).__name__} is not an order for {topic}")
    body = order.model_dump(mode="json", exclude_none=True)
    target = target_of(topic)
    sig = key.sign(signing_bytes(body, target, seq, expires))
    env: dict[str, Any] = {
        "order": body,
        "target": target,
        "seq": seq,
        "expires": expires,
        "sig": base64.b64encode(sig).decode(),
    }
    # The wire form need not be canonical (the device canonicalises what it parsed): the faster encoder will do.
    return json.dumps(env, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def open_order(
    key: Ed25519PublicKey | None, payload: bytes, topic: Topic, last_seq: int, now: float
) -> tuple[SignedOrder, EdgeCommand | SpeakerCommand]:
    """Checks an envelope received on `topic` (the device's own command topic) and returns it with its order.

    Checked in this order, so the reason names the first thing wrong: size and shape, signature (nothing
    unsigned is believed, not even its address), address, expiry, sequence, then the order's own contract.
    Raises OrderRefused."""
    if len(payload) > MAX_JSON_BYTES:
        raise OrderRefused(Refusal.INVALID, f"{len(payload)} bytes > {MAX_JSON_BYTES}")
    try:
        # The standard library parser, so the numbers re-canonicalised below are exactly the ones received.
        doc = json.loads(payload)
    except (
        UnicodeDecodeError,
        ValueError,
        RecursionError,
    ) as exc:  # numbers past int's digit limit, deep nesting
        raise OrderRefused(Refusal.INVALID, f"not JSON: {exc}") from None
    if isinstance(doc, dict) and "sig" not in doc and "order" not in doc:
        raise OrderRefused(Refusal.UNSIGNED, "a bare command without the hub's signature")
    try:
        env = SignedOrder.model_validate(doc, strict=True)
    except ValidationError as exc:
        raise OrderRefused(Refusal.INVALID, format_validation_error(exc)) from None
    if key is None:
        raise OrderRefused(Refusal.NO_KEY, "no hub_public_key configured")
    try:
        sig = base64.b64decode(env.sig, validate=True)
        key.verify(sig, signing_bytes(env.order, env.target, env.seq, env.expires))
    except (binascii.Error, ValueError, InvalidSignature, TypeError):
        raise OrderRefused(Refusal.BAD_SIGNATURE, "signature does not verify") from None
    signed = env.order  # from here on the hub said it
    if env.target != target_of(topic):
        raise OrderRefused(Refusal.MISADDRESSED, f"signed for {env.target}, not {target_of(topic)}", signed)
    if env.expires <= now:
        raise OrderRefused(Refusal.EXPIRED, f"expired {now - env.expires:.0f} s ago", signed)
    if env.seq <= last_seq:
        raise OrderRefused(Refusal.REPLAYED, f"seq {env.seq} not above the last accepted {last_seq}", signed)
    model = ORDER_MODELS[topic.kind]
    try:
        order = model.model_validate_json(json.dumps(env.order), strict=True)
    except ValidationError as exc:
        raise OrderRefused(Refusal.INVALID, format_validation_error(exc), signed) from None
    return env, order


# keys ---------------------------------------------------------------------------------------------------------
def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(text_or_path: str | Path, base_dir: Path | None = None) -> Ed25519PublicKey:
    """The hub's public key from PEM text (starts with -----BEGIN) or from a PEM file (relative to `base_dir`).
    Raises ValueError saying what is wrong."""
    text = str(text_or_path)
    if not text.lstrip().startswith("-----BEGIN"):
        path = Path(text)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read the hub public key file {path}: {exc}") from None
    try:
        key = serialization.load_pem_public_key(text.encode())
    except ValueError as exc:
        raise ValueError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the hub public key must be Ed25519, not {type(key).__name__}")
    return key
