"""Cost of signed orders: how many orders per second the hub signs and a device verifies (Ed25519 over RFC 8785
canonical JSON, contract/orders.py), for a typical `prepare` with 3 items. No arguments; prints one JSON line."""

from __future__ import annotations

import json
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract import PlaylistItem, PreparePlaylist, SpeakerCommand, topics
from contract.orders import open_order, sign_order

N = 3000


def main() -> None:
    key = Ed25519PrivateKey.generate()
    pub = key.public_key()
    topic = topics.speaker_topic("yen_dinh", "dinh_long", "loa-thon-3", topics.Channel.CMD)
    now = time.time()
    items = [
        PlaylistItem(
            url=f"http://hub.local:8080/media/{c * 64}.mp3", sha256=c * 64, size=480_000, duration_s=30.1
        )
        for c in "abc"
    ]
    order = SpeakerCommand(
        transaction="p-81", action="prepare", ts=now,
        data=PreparePlaylist(airing="prog-12", start_at=now + 600, priority="normal", items=items, repeats=2),
    )  # fmt: skip
    t0 = time.perf_counter()
    payloads = [sign_order(key, order, topic, i + 1, now + 300) for i in range(N)]
    signed_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, p in enumerate(payloads):
        open_order(pub, p, topic, i, now)
    verified_s = time.perf_counter() - t0
    print(json.dumps({
        "bench": "orders", "orders": N, "payload_bytes": len(payloads[0]),
        "sign_per_s": round(N / signed_s), "verify_per_s": round(N / verified_s),
        "sign_us": round(signed_s / N * 1e6, 1), "verify_us": round(verified_s / N * 1e6, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
