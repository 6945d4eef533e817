"""Property-based fuzzing of the hub's ingest path (hub/core/ingest.py) with every feature's MQTT handlers of a
real `Hub` (speaker status/health/events, command replies): any topic (or none, when it was not UTF-8), any
payload, any MQTT 5 user properties. Nothing escapes `Ingest.handle`, no handler fails, and every message is
counted exactly once: accepted, rejected under a known reason, or a cleared retained message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import MAX_SNAPSHOT_BYTES, Channel, ContractError, Kind, TopicError, decode, parse
from contract.topics import INBOUND
from hub.compose import Hub
from tests.contract.fuzz_support import SLUGS, payloads, topics
from tests.fixtures_hub import make_hub_config

REASONS = {
    "bad_topic",
    "too_large",
    "unknown_channel",
    "not_jpeg",
    "not_json",
    "not_object",
    "invalid",
    "invalid_meta",
    "bad_jpeg",
}
# Well-formed messages the hub still refuses: claims it cannot check (hub/core/claims.py, the time window) and
# quotas (hub/core/quotas.py). Counted like the contract's own reasons.
CLAIMS = {
    "future_ts",
    "too_old",
    "not_assigned",
    "outside_area",
    "no_agent",
    "unknown_agent",
    "agent_elsewhere",
    "speaker_elsewhere",
    "quota_messages",
    "quota_snapshot_bytes",
    "quota_cameras",
}
_ok, _buf = cv2.imencode(".jpg", np.full((8, 16, 3), 128, np.uint8))
JPEG = bytes(_buf)


@dataclass
class Props:
    """What paho hands over: MQTT 5 properties with `UserProperty` as a list of (name, value) pairs."""

    UserProperty: list[tuple[str, str]] = field(default_factory=list)


user_properties = st.lists(
    st.tuples(
        st.sampled_from(["ts", "width", "height", "seq"]) | st.text(max_size=6),
        st.sampled_from(["1800000000", "640", "-1", "nan", "inf", "1e400", "", "3.5"]) | st.text(max_size=12),
    ),
    max_size=4,
)
snapshots = st.one_of(
    st.just(JPEG),
    st.binary(max_size=64).map(lambda b: b"\xff\xd8\xff" + b + b"\xff\xd9"),
    st.binary(max_size=64).map(lambda b: JPEG[: len(JPEG) // 2] + b),
    payloads(),
)


_inbound = st.sampled_from(sorted(INBOUND, key=str))
_shapes = st.sampled_from(["inbound", "inbound", "inbound", "any", "none"])
_props = st.none() | user_properties.map(Props)
_payloads = {key: snapshots if key[1] == Channel.SNAPSHOT else payloads(key) for key in INBOUND}


@st.composite
def messages(draw: st.DrawFn) -> tuple[str | None, bytes, Props | None, bool]:
    kind, channel = draw(_inbound)
    shape = draw(_shapes)
    if shape == "inbound":
        topic: str | None = f"ops/v1/{draw(SLUGS)}/{draw(SLUGS)}/{kind.value}/{draw(SLUGS)}/{channel.value}"
    else:
        topic = draw(topics()) if shape == "any" else None
    return topic, draw(_payloads[(kind, channel)]), draw(_props), draw(st.booleans())


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """Built, never started: ingest, state, the features' handlers and the InfluxDB buffer, no network."""
    work: Path = tmp_path_factory.mktemp("ingest-fuzz")
    loop = asyncio.new_event_loop()

    async def build() -> Hub:
        return Hub(make_hub_config(work, 1, "http://127.0.0.1:9"))

    h = loop.run_until_complete(build())
    asyncio.set_event_loop(loop)  # the handlers may touch asyncio queues and futures of this loop
    yield h
    asyncio.set_event_loop(None)
    loop.close()


def _counts(h: Hub) -> tuple[int, int, int, int]:
    s = h.stats
    return s.accepted, sum(s.rejected.values()), s.retained_cleared, s.handler_errors


def expected_outcome(topic: str | None, payload: bytes) -> str | None:
    """What the contract alone says of a message: a rejection reason, "cleared", or None (its payload is
    valid; a snapshot may still be refused for its properties or a broken JPEG)."""
    if topic is None:
        return "bad_topic"
    if len(payload) > MAX_SNAPSHOT_BYTES:
        return "too_large"
    try:
        t = parse(topic)
    except TopicError:
        return "bad_topic"
    if not payload and t.retained:
        return "cleared"
    try:
        decode(t, payload)
    except ContractError as exc:
        return exc.reason
    return None


@settings(max_examples=300)
@given(message=messages())
def test_every_message_is_accepted_or_rejected_and_counted_once(
    hub: Hub, message: tuple[str | None, bytes, Any, bool]
) -> None:
    topic, payload, props, retain = message
    expected = expected_outcome(topic, payload)
    before = _counts(hub)
    rejected_before = dict(hub.stats.rejected)
    influx_before = hub.influx.buffered if hub.influx is not None else 0
    hub.ingest.handle(topic, payload, props, 1_800_000_000.0, retain)
    accepted, rejected, cleared, errors = (a - b for a, b in zip(_counts(hub), before, strict=True))
    assert errors == 0, "a feature's handler failed on a validated message"
    grew = {r for r, n in hub.stats.rejected.items() if n > rejected_before.get(r, 0)}
    # An accepted message may still have parts refused and counted: inventory entries outside the box's area, a
    # speaker's status naming another commune than its registry row (hub/core/claims.py, broadcast/speakers).
    partial = {r for r in grew if r.startswith("inventory_") or r == "speaker_elsewhere"}
    if accepted and partial:
        rejected -= sum(hub.stats.rejected[r] - rejected_before.get(r, 0) for r in partial)
        grew -= partial
    assert (accepted, rejected, cleared) in {(1, 0, 0), (0, 1, 0), (0, 0, 1)}
    if expected == "cleared":
        assert cleared == 1
    elif expected is not None:
        assert grew == {expected}, "rejected under the contract's own reason"
    else:
        assert accepted == 1 or grew <= {"invalid_meta", "bad_jpeg"} | CLAIMS
    assert grew <= REASONS | CLAIMS
    if accepted and topic is not None and hub.influx is not None:
        t = parse(topic)
        if (t.kind, t.channel) == (Kind.CAMERA, Channel.HEALTH):
            assert hub.influx.buffered == influx_before + 1  # one InfluxDB point per probe


@settings(max_examples=300)
@given(topic=topics() | st.text(max_size=40))
def test_topics_outside_the_grammar_are_rejected_as_bad_topics(hub: Hub, topic: str) -> None:
    try:
        parse(topic)
        bad = False
    except TopicError:
        bad = True
    before = hub.stats.rejected["bad_topic"]
    hub.ingest.handle(topic, b"{}", None, 1_800_000_000.0, False)
    assert hub.stats.rejected["bad_topic"] == before + (1 if bad else 0)
