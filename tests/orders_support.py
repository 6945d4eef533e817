"""The tests' own "hub" key for orders sent by hand to real device processes (no tests here): devices under test
get `PUBLIC_PEM` as their `hub_public_key`, and `signed()` wraps an order the way the hub does
(contract/orders.py), with knobs to make it wrong on purpose."""

from __future__ import annotations

import base64
import itertools
import time
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.orders import public_pem, signing_bytes

TEST_KEY = Ed25519PrivateKey.generate()
PUBLIC_PEM = public_pem(TEST_KEY.public_key())
_seq = itertools.count(int(time.time() * 1_000_000))


def target_of(topic: str) -> str:
    """`ops/v1/d/c/kind/id/cmd` → `d/c/kind/id`."""
    return "/".join(topic.split("/")[2:6])


def signed(
    topic: str,
    order: dict[str, Any],
    *,
    key: Ed25519PrivateKey = TEST_KEY,
    seq: int | None = None,
    expires: float | None = None,
    target: str | None = None,
) -> bytes:
    """The envelope of `order` (any dict: contract-breaking orders too) for the device of `topic`."""
    seq = next(_seq) if seq is None else seq
    expires = round(time.time() + 300, 3) if expires is None else expires
    target = target_of(topic) if target is None else target
    sig = base64.b64encode(key.sign(signing_bytes(order, target, seq, expires))).decode()
    return rfc8785.dumps({"order": order, "target": target, "seq": seq, "expires": expires, "sig": sig})
