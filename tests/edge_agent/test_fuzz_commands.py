"""Property-based fuzzing of the edge agent's command handling: whatever arrives on (or instead of) its command
topic goes through the device runtime's incoming path (`Publisher.handle(Incoming)`) into a real `EdgeAgent`
(edge_agent/command_runner.py), signed with the test hub key when it is a JSON object (tests/contract/
fuzz_support.py `signed`). It never crashes; each message is either carried out (`commands` + 1, a reply with its
transaction) or refused (`commands_rejected` + 1; an error reply only for a signed order whose transaction can be
read)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import MAX_JSON_BYTES, Channel, CommandReply, Kind, decode, parse
from contract.orders import OrderRefused
from contract.topics import parse as parse_topic
from device_runtime.link import Incoming
from device_runtime.orders import OrderGate, read_hub_key
from device_runtime.redact import Redactor
from edge_agent.app import EdgeAgent
from edge_agent.config import EdgeConfig
from tests.contract.fuzz_support import TEST_PUBLIC_PEM, payloads, signed, topics

KEY = (Kind.EDGE, Channel.CMD)
CMD = "ops/v1/d/c/edge/box-1/cmd"


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory) -> OrderGate:
    key = read_hub_key(TEST_PUBLIC_PEM, Path("."))
    return OrderGate(key, parse_topic(CMD), tmp_path_factory.mktemp("gate") / "seq.json")


@settings(max_examples=400)
@given(topic=st.just(CMD) | topics(), payload=payloads(KEY), sign=st.booleans())
def test_the_gate_admits_an_order_or_counts_its_refusal(
    gate: OrderGate, topic: str, payload: bytes, sign: bool
) -> None:
    now = time.time()
    wire = signed(payload, topic, now) if sign else payload
    refused_before = sum(gate.refused.values())
    try:
        gate.admit(topic, wire, now)
    except OrderRefused as exc:
        assert sum(gate.refused.values()) == refused_before + 1
        tx = exc.transaction
        assert tx is None or (isinstance(tx, str) and 1 <= len(tx) <= 64)
        assert tx is None or len(wire) <= MAX_JSON_BYTES
    else:
        assert topic == CMD and sign


async def _agent() -> EdgeAgent:
    # No cameras: every valid command is answered at once (nothing to probe), and no worker process starts.
    config = EdgeConfig.model_validate(
        {"agent": {"id": "box-1", "district": "d", "commune": "c"}, "hub_public_key": TEST_PUBLIC_PEM}
    )
    return EdgeAgent(config, None, Redactor([]))


@pytest.fixture(scope="module")
def edge() -> Iterator[tuple[EdgeAgent, asyncio.AbstractEventLoop]]:
    loop = asyncio.new_event_loop()
    agent = loop.run_until_complete(_agent())
    assert agent.cmd_topic == CMD
    yield agent, loop
    loop.close()


async def _deliver(agent: EdgeAgent, topic: str, payload: bytes) -> list[CommandReply]:
    agent.publisher.handle(Incoming(1, topic, payload))
    await asyncio.gather(*agent._command_tasks)
    replies = []
    while (entry := agent.outbox.next_unsent()) is not None:
        agent.outbox.ack(entry.id)
        reply = decode(parse(entry.message.topic), entry.message.payload)
        assert isinstance(reply, CommandReply)
        replies.append(reply)
    return replies


@settings(max_examples=300)
@given(topic=st.just(CMD) | topics(), payload=payloads(KEY))
def test_every_incoming_message_is_carried_out_or_refused_and_counted(
    edge: tuple[EdgeAgent, asyncio.AbstractEventLoop], topic: str, payload: bytes
) -> None:
    agent, loop = edge
    before = dataclasses.replace(agent.counters)
    accepted = agent.gate.accepted
    replies = loop.run_until_complete(_deliver(agent, topic, signed(payload, topic, time.time())))
    after = agent.counters
    if agent.gate.accepted == accepted:  # refused at the gate: counted, never carried out
        assert (after.commands_rejected, after.commands) == (before.commands_rejected + 1, before.commands)
        assert all(r.status == "error" and r.error for r in replies)
    else:  # admitted: carried out, or refused by the agent (an unknown camera …) with an error reply
        assert after.commands + after.commands_rejected == before.commands + before.commands_rejected + 1
        assert all(r.status in ("ok", "error") for r in replies)
