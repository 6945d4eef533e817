"""Commands from the hub: validation against the contract, and what can be salvaged from a bad one."""

from __future__ import annotations

import json
from dataclasses import dataclass

from contract import MAX_JSON_BYTES, ContractError, SpeakerCommand, TopicError, decode, parse
from contract.topics import is_slug


@dataclass(frozen=True, slots=True)
class BadCommand:
    """A command that breaks the contract; answered with `failed` when its transaction can be read."""

    transaction: str | None
    airing: str | None
    error: str


def _salvage(payload: bytes) -> tuple[str | None, str | None]:
    if len(payload) > MAX_JSON_BYTES:
        return None, None
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, numbers past int's digit limit, nesting too deep
        return None, None
    if not isinstance(doc, dict):
        return None, None
    tx = doc.get("transaction")
    transaction = tx if isinstance(tx, str) and 1 <= len(tx) <= 64 else None
    data = doc.get("data")
    raw = data.get("airing") if isinstance(data, dict) else None
    airing = raw if isinstance(raw, str) and len(raw) <= 64 and is_slug(raw) else None
    return transaction, airing


def parse_command(topic: str, payload: bytes, expected_topic: str) -> SpeakerCommand | BadCommand:
    if topic != expected_topic:
        return BadCommand(None, None, f"message on unexpected topic {topic!r}")
    try:
        model = decode(parse(topic), payload)
    except (ContractError, TopicError) as exc:
        return BadCommand(*_salvage(payload), f"Lệnh không hợp lệ: {exc}")
    if not isinstance(model, SpeakerCommand):
        return BadCommand(None, None, f"not a command payload on {topic!r}")
    return model
