"""Orders from the hub: the signed envelope checked by the device's gate (device_runtime/orders.py), then the
order against the contract, and what can be said back about one that is refused."""

from __future__ import annotations

from dataclasses import dataclass

from contract import SpeakerCommand
from contract.orders import OrderRefused, Refusal
from contract.topics import is_slug
from device_runtime.orders import OrderGate


@dataclass(frozen=True, slots=True)
class BadCommand:
    """An order refused. Answered (`failed`, reason invalid) only when the hub's signature on it verified and
    its transaction can be read: nothing unsigned earns a word from the receiver."""

    reason: Refusal
    transaction: str | None
    airing: str | None
    error: str


def admit_command(gate: OrderGate, topic: str, payload: bytes, now: float) -> SpeakerCommand | BadCommand:
    try:
        order = gate.admit(topic, payload, now)
    except OrderRefused as exc:
        data = exc.order.get("data") if exc.order is not None else None
        raw = data.get("airing") if isinstance(data, dict) else None
        airing = raw if isinstance(raw, str) and is_slug(raw) else None
        return BadCommand(
            exc.reason, exc.transaction, airing, f"Lệnh bị từ chối ({exc.reason.value}): {exc.detail}"
        )
    if not isinstance(order, SpeakerCommand):  # the gate's topic is a speaker's: cannot happen
        return BadCommand(Refusal.INVALID, None, None, "not a speaker order")
    return order
