"""Hypothesis strategies for what arrives over MQTT: arbitrary bytes, arbitrary JSON, and payloads that are one
mutation away from valid (the cases most likely to reach a validator's corners), for every channel of the
contract; and topics, valid and not. Shared by the fuzz tests of the contract, the hub's ingest and the device
agents' command handling."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from contract import MAX_JSON_BYTES, Channel, Kind
from contract.orders import public_pem, signing_bytes, target_of
from contract.topics import CHANNELS, ROOT, TopicError, parse

TS = 1_800_000_000.0
SHA = "ab" * 32

# One valid payload per (kind, channel) with a JSON body, every optional field given where it has one.
VALID: dict[tuple[Kind, Channel], dict[str, Any]] = {
    (Kind.EDGE, Channel.STATUS): {
        "state": "online", "ts": TS, "version": "1.2.0", "boot": "b1", "cameras": 1, "queue": 0,
        "queue_dropped": 0, "worker_restarts": 0, "workers_failing": False, "disk_free_mb": 900.5,
        "inventory": [{"id": "cam-1", "commune": "xa-a", "name": "Cổng", "expected_fps": 25}],
    },
    (Kind.EDGE, Channel.CMD): {"transaction": "t1", "action": "probe", "camera": "cam-1", "ts": TS},
    (Kind.EDGE, Channel.REPLY): {"transaction": "t1", "status": "ok", "ts": TS, "data": {"a": [1]}, "error": None},
    (Kind.CAMERA, Channel.HEALTH): {
        "ts": TS, "seq": 3, "online": True, "problems": ["frozen", "low_fps"], "agent": "box-1", "boot": "b1",
        "reason": "x", "fps": 12.5, "expected_fps": 25, "width": 640, "height": 360, "open_ms": 80,
        "probe_ms": 900, "brightness": 90, "contrast": 30, "sharpness": 120, "motion": 2,
    },
    (Kind.SPEAKER, Channel.STATUS): {
        "state": "online", "ts": TS, "version": "1.0", "boot": "b", "name": "Loa", "village": "thon-1",
    },
    (Kind.SPEAKER, Channel.HEALTH): {
        "ts": TS, "seq": 1, "volume": 80, "amplifier": "on", "signal_dbm": -60, "disk_free_mb": 500,
        "playing": "a1", "cache_mb": 10, "queue": 0,
    },
    (Kind.SPEAKER, Channel.CMD): {
        "transaction": "t2", "action": "prepare", "ts": TS,
        "data": {"airing": "a1", "start_at": TS + 30, "priority": "normal", "repeats": 2, "gap_s": 1.5,
                 "items": [{"url": "http://hub/media/x.mp3", "sha256": SHA, "size": 100, "duration_s": 3}]},
    },
    (Kind.SPEAKER, Channel.EVENT): {
        "event": "started", "ts": TS, "transaction": "t2", "airing": "a1", "error": None,
        "data": {"first_sample_at": TS, "offset_ms": 12.5, "start_at": TS, "played_s": 1, "downloaded_bytes": 5,
                 "prepare_ms": 3, "reason": "late", "by": "a0", "volume": 4},
    },
    (Kind.RECORDER, Channel.HEALTH): {
        "ts": TS, "seq": 3, "agent": "box1", "api": "isapi", "online": True, "error": None, "name": "NVR",
        "disks": [{"id": "1", "state": "ok", "raw": "ok", "capacity_mb": 953869, "free_mb": 0}],
        "channels": [{"channel": 1, "camera": "cam1", "enabled": True, "recording": True, "oldest_ts": TS - 86400}],
        "oldest_ts": TS - 86400, "days_kept": 1.0,
    },
}  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# Numbers and strings where validators look: bounds, types, huge and tiny values, the enum members of the
# contract (so a wrong member in the right place is tried as often as a wrong type).
ENUM_WORDS = ["online", "offline", "ok", "error", "prepare", "stop", "volume", "probe", "reload", "snapshot",
              "relearn", "ready", "started", "failed", "reply", "late", "frozen", "black", "on", "fault", "normal",
              "emergency", "priority"]  # fmt: skip
edge_values = (
    st.sampled_from([0, -1, 1, TS, -TS, 1e308, -1e308, 2**63, -(2**63), 2**64, 10**30, 0.5, "", "1", SHA])
    | st.sampled_from([float("inf"), float("-inf"), float("nan")])  # json.dumps writes Infinity and NaN
    | st.sampled_from(ENUM_WORDS)
    | json_values
)


def _mutations(doc: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`doc` with one field changed, removed or added, at the top or one level down."""
    keys = sorted(doc)
    if not keys:  # a mutation may have emptied it: add a field
        return st.tuples(st.text(max_size=12), edge_values).map(lambda kv: {kv[0]: kv[1]})

    def nested(key: str) -> st.SearchStrategy[dict[str, Any]]:
        inner = doc[key]
        if isinstance(inner, dict) and inner:
            return _mutations(inner).map(lambda m: {**doc, key: m})
        if isinstance(inner, list) and inner and isinstance(inner[0], dict) and inner[0]:
            return _mutations(inner[0]).map(lambda m: {**doc, key: [m, *inner[1:]]})
        return st.just(doc)

    changed = st.tuples(st.sampled_from(keys), edge_values).map(lambda kv: {**doc, kv[0]: kv[1]})
    removed = st.sampled_from(keys).map(lambda k: {x: v for x, v in doc.items() if x != k})
    added = st.tuples(st.text(max_size=12), edge_values).map(lambda kv: {**doc, kv[0]: kv[1]})
    return st.one_of(changed, removed, added, st.sampled_from(keys).flatmap(nested))


def mutated(doc: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`doc` itself, or one or two mutations away from it."""
    return st.just(doc) | _mutations(doc).flatmap(lambda once: st.just(once) | _mutations(once))


def near_valid(key: tuple[Kind, Channel]) -> st.SearchStrategy[dict[str, Any]]:
    return mutated(VALID[key])


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


# Byte strings no JSON library should choke on, but some do: deep nesting, numbers longer than Python's
# int-from-string limit, bare constants, byte order marks, invalid UTF-8, oversized documents.
hostile = st.sampled_from(
    [
        b"[" * 5000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b"1" * 5000,
        b'{"transaction": "t", "seq": ' + b"9" * 5000 + b"}",
        b"NaN",
        b'{"ts": Infinity}',
        b"\xef\xbb\xbf{}",
        b"\xff\xfe{\x00}\x00",
        b'{"a": "\\ud800"}',
        b"\x00",
        b"",
        b" " * (MAX_JSON_BYTES + 1),
        b'{"x": "' + b"a" * MAX_JSON_BYTES + b'"}',
    ]
)


_anything = st.binary(max_size=200) | json_values.map(dumps) | hostile
_by_channel: dict[tuple[Kind, Channel], st.SearchStrategy[bytes]] = {}


def payloads(
    key: tuple[Kind, Channel] | None = None, base: dict[str, Any] | None = None
) -> st.SearchStrategy[bytes]:
    """Anything a broker may deliver on a channel: mostly near-valid JSON for it when `key` (or a valid `base`
    document) is given."""
    if base is not None:
        return st.one_of(_anything, mutated(base).map(dumps), mutated(base).map(dumps))
    if key is None or key not in VALID:
        return _anything
    if key not in _by_channel:  # built once: drawing from a cached strategy is much cheaper
        _by_channel[key] = st.one_of(_anything, near_valid(key).map(dumps), near_valid(key).map(dumps))
    return _by_channel[key]


SLUGS = st.builds(str.__add__, st.sampled_from("abcdxyz0189"), st.text(alphabet="abcxyz019_-", max_size=8))
segment = SLUGS | st.text(max_size=10) | st.sampled_from(["", "+", "#", "..", "A", "a" * 65, "x/y", "é"])


_kinds_channels = st.sampled_from(sorted(((k, c) for k in Kind for c in CHANNELS[k]), key=str))
_topic_shapes = st.sampled_from(["good", "near", "near", "free", "extra"])
_segment_index = st.integers(0, 6)
_free_text = st.text(max_size=60)


@st.composite
def topics(draw: st.DrawFn) -> str:
    """Topics of every shape: the contract's own (every kind and channel), near misses, and free text.
    (Strategies are built once, outside the draw: hypothesis is much slower with new ones on every draw.)"""
    kind, channel = draw(_kinds_channels)
    good = f"{ROOT}/{draw(SLUGS)}/{draw(SLUGS)}/{kind.value}/{draw(SLUGS)}/{channel.value}"
    shape = draw(_topic_shapes)
    if shape == "good":
        return good
    if shape == "extra":
        return good + "/extra"
    if shape == "free":
        return draw(_free_text)
    parts = good.split("/")
    i = draw(_segment_index)
    return "/".join([*parts[:i], draw(segment), *parts[i + 1 :]])


# Signed orders ---------------------------------------------------------------------------------------------
# Devices obey only orders inside the hub's signed envelope (contract/orders.py). The fuzzers sign what they
# generate with a test key, so the order's own contract is exercised past the gate; what is not a JSON object
# cannot be signed and travels raw (the gate refuses it unheard).
TEST_KEY = Ed25519PrivateKey.generate()
TEST_PUBLIC_PEM = public_pem(TEST_KEY.public_key())
_seq = itertools.count(1)


def signed(payload: bytes, topic: str, now: float) -> bytes:
    try:
        order = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return payload
    if not isinstance(order, dict):
        return payload
    try:
        t = parse(topic)
        target = target_of(t)
    except TopicError:
        target = "d/c/x/y"
    seq, expires = next(_seq), now + 300
    try:
        sig = TEST_KEY.sign(signing_bytes(order, target, seq, expires))
    except (ValueError, TypeError, RecursionError):  # not canonicalisable (huge numbers …): send it raw
        return payload
    env = {
        "order": order,
        "target": target,
        "seq": seq,
        "expires": expires,
        "sig": base64.b64encode(sig).decode(),
    }
    try:
        return json.dumps(env, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        return payload
