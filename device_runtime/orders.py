"""The device's gate for the hub's orders: verify (contract/orders.py), count what is refused, and remember the
last accepted sequence on disk so a restart does not reopen the door to replays.

Shared by the edge agent and the loudspeaker receiver. The sequence file is written (to a temporary file,
fsync, rename) before the order is carried out: a power cut right after cannot make the same order acceptable
again.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract import EdgeCommand, SpeakerCommand, Topic
from contract.orders import OrderRefused, Refusal, load_public_key, open_order

log = logging.getLogger(__name__)


def read_hub_key(value: str | None, base_dir: Path) -> Ed25519PublicKey | None:
    """The configured `hub_public_key` (PEM text or a file relative to the config); None when not configured.
    Raises ValueError when it is configured but unusable (the agent must not start half-armed)."""
    if value is None:
        return None
    return load_public_key(value, base_dir)


class OrderGate:
    def __init__(self, key: Ed25519PublicKey | None, topic: Topic, state_file: Path) -> None:
        self.key = key
        self.topic = topic
        self.state_file = state_file
        self.refused: Counter[str] = Counter()
        self.accepted = 0
        self.last_seq = self._load()
        if key is None:
            log.error("no hub_public_key configured: every order from the hub will be refused")

    def _load(self) -> int:
        try:
            value = json.loads(self.state_file.read_text(encoding="utf-8"))["last_seq"]
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Unreadable: replays stay bounded by each order's expiry, and the next accepted order rewrites it.
            log.error("order sequence file %s unreadable (%s): starting from 0", self.state_file, exc)
            return 0
        return value if isinstance(value, int) and value >= 0 else 0

    def _save(self, seq: int) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"last_seq": seq}, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.state_file)

    def admit(self, topic: str, payload: bytes, now: float) -> EdgeCommand | SpeakerCommand:
        """The order inside a verified envelope on this device's own command topic; raises OrderRefused (and
        counts it). The new sequence is on disk before this returns."""
        try:
            if topic != str(self.topic):
                raise OrderRefused(Refusal.MISADDRESSED, f"message on unexpected topic {topic!r}")
            env, order = open_order(self.key, payload, self.topic, self.last_seq, now)
        except OrderRefused as exc:
            self.refused[exc.reason.value] += 1
            raise
        self._save(env.seq)
        self.last_seq = env.seq
        self.accepted += 1
        return order

    def counts(self) -> dict[str, int] | None:
        """Refusals by reason for the status/health payload (None when there were none)."""
        return dict(self.refused) if self.refused else None
