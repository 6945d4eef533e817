"""Security of the deployment: the broker's accounts, ACLs and TLS (test_broker_*.py) against a real Mosquitto
with the dynamic-security plugin, driven by the hub's registry through its real command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker_support import SecureBroker, secure_broker_in


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    broker = secure_broker_in(tmp_path)
    yield broker
    broker.stop()
