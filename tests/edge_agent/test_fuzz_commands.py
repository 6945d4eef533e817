"""Property-based fuzzing of the edge agent's command handling: whatever arrives on (or instead of) its command
topic goes through the device runtime's incoming path (`Publisher.handle(Incoming)`) into a real `EdgeAgent`
(edge_agent/command_runner.py, edge_agent/commands.py). It never crashes; each message is either carried out
(`commands` + 1, a reply with its transaction) or refused (`commands_rejected` + 1, an error reply when its
transaction can be read, nothing otherwise)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import MAX_JSON_BYTES, Channel, CommandReply, Kind, decode, parse
from device_runtime.link import Incoming
from device_runtime.redact import Redactor
from edge_agent.app import EdgeAgent
from edge_agent.commands import BadCommand, parse_command
from edge_agent.config import EdgeConfig
from tests.contract.fuzz_support import payloads, topics

KEY = (Kind.EDGE, Channel.CMD)
CMD = "ops/v1/d/c/edge/box-1/cmd"


@settings(max_examples=400)
@given(topic=st.just(CMD) | topics(), payload=payloads(KEY))
def test_parse_command_returns_a_command_or_a_refusal(topic: str, payload: bytes) -> None:
    parsed = parse_command(topic, payload, CMD)
    if isinstance(parsed, BadCommand):
        tx = parsed.transaction
        assert tx is None or (isinstance(tx, str) and 1 <= len(tx) <= 64)
        assert parsed.error
        assert tx is None or len(payload) <= MAX_JSON_BYTES
    else:
        assert topic == CMD


async def _agent() -> EdgeAgent:
    # No cameras: every valid command is answered at once (nothing to probe), and no worker process starts.
    config = EdgeConfig.model_validate({"agent": {"id": "box-1", "district": "d", "commune": "c"}})
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
    parsed = parse_command(topic, payload, CMD)
    replies = loop.run_until_complete(_deliver(agent, topic, payload))
    after = agent.counters
    if isinstance(parsed, BadCommand):
        assert (after.commands_rejected, after.commands) == (before.commands_rejected + 1, before.commands)
        expected = [parsed.transaction] if parsed.transaction is not None else []
        assert [r.transaction for r in replies] == expected
        assert all(r.status == "error" and r.error for r in replies)
    else:
        assert (after.commands, after.commands_rejected) == (before.commands + 1, before.commands_rejected)
        assert [r.transaction for r in replies] == [parsed.transaction]
