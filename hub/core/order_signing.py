"""The hub's order-signing key and signer (every command to a device goes out signed, contract/orders.py).

The key pair is made at first start under `data_dir/keys/` (private key mode 0600, written with O_EXCL so two
processes starting together cannot each write their own) unless `orders.private_key` names a file. The public
key is written beside it as `orders_ed25519.pub` for the operator to copy into every device's config
(`hub_public_key`). The private key is never logged.

Sequence numbers are microseconds of the hub's clock, made strictly increasing within the process: they keep
growing across hub restarts without any state (a device refuses an order whose sequence is not above the
last it accepted). Several hub processes signing for the same device at the same microsecond are not a
concern in practice; one whose clock runs behind the others' sees its orders refused as `replayed` (counted
on the device), which is why hubs must keep NTP time.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contract import Model, Topic
from contract.orders import public_pem, sign_order
from hub.core.config import CoreConfig

log = logging.getLogger("hub.orders")

KEY_NAME = "orders_ed25519.pem"
PUB_NAME = "orders_ed25519.pub"


class SigningKeyError(ValueError):
    """The configured private key cannot be used."""


def key_path(config: CoreConfig) -> Path:
    return config.orders.private_key or config.data_dir / "keys" / KEY_NAME


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"order-signing key {path} unusable: {type(exc).__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"order-signing key {path} is not an Ed25519 key")
    if os.stat(path).st_mode & 0o077:
        log.warning("order-signing key %s can be read by other users: chmod 600 it", path)
    return key


def load_or_create_key(config: CoreConfig) -> Ed25519PrivateKey:
    path = key_path(config)
    if config.orders.private_key is not None:
        return _read_private(path)  # given by the operator: never made up in its place
    if path.exists():
        key = _read_private(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another hub process made it first: use that one
            return _read_private(path)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        log.info("order-signing key created: %s (public key in %s)", path, path.with_name(PUB_NAME))
    pub = path.with_name(PUB_NAME)
    text = public_pem(key.public_key())
    try:
        if not pub.exists() or pub.read_text(encoding="ascii") != text:
            pub.write_text(text, encoding="ascii")
    except OSError as exc:
        log.warning("cannot write the public key beside the private one (%s): %s", pub, exc)
    return key


class OrderSigner:
    def __init__(self, key: Ed25519PrivateKey, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self.ttl_s = ttl_s
        self.clock = clock
        self._last_seq = 0
        self.signed = 0

    @classmethod
    def for_config(cls, config: CoreConfig) -> OrderSigner:
        return cls(load_or_create_key(config), config.orders.ttl_s)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def public_pem(self) -> str:
        return public_pem(self.public_key)

    def next_seq(self) -> int:
        seq = max(int(self.clock() * 1_000_000), self._last_seq + 1)
        self._last_seq = seq
        return seq

    def sign(self, topic: Topic, order: Model) -> bytes:
        """The wire payload of `order` for the device whose command topic is `topic`."""
        now = self.clock()
        self.signed += 1
        return sign_order(self._key, order, topic, self.next_seq(), round(now + self.ttl_s, 3))

    def __repr__(self) -> str:  # never the key
        return f"OrderSigner(ttl_s={self.ttl_s}, signed={self.signed})"
