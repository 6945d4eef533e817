"""Security of the deployment. The broker's accounts, ACLs and TLS (test_broker_*.py) run against a real Mosquitto
with the dynamic-security plugin, driven by the hub's registry through its real command line; the claim, order
and web tests use a hub with the strict defaults of a deployment (no legacy reports, the real time window), the
boxes of two communes, and the web app behind a trusted reverse proxy."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.services import Service
from hub.compose import Hub, HubConfig
from tests.broker_support import SecureBroker, secure_broker_in
from tests.fixtures_hub import Publisher, make_hub_config, started_hub, wait_for

D = "yen_dinh"
HOME, OTHER = "dinh_long", "dinh_tan"
STOLEN, NEIGHBOUR = "box-dl", "box-dt"  # the stolen box of Định Long; the honest box of Định Tân


def topic(commune: str, kind: str, ident: str, channel: str) -> str:
    return f"ops/v1/{D}/{commune}/{kind}/{ident}/{channel}"


def status(**kw: Any) -> dict[str, Any]:
    return {"state": "online", "ts": time.time(), "version": "1.0", "boot": "b1", **kw}


def health(agent: str, seq: int, ts: float | None = None, **kw: Any) -> dict[str, Any]:
    return {"ts": time.time() if ts is None else ts, "seq": seq, "online": True, "agent": agent, **kw}


@pytest.fixture
async def strict_hub(tmp_path: Path, mosquitto: Service) -> AsyncIterator[Hub]:
    cfg = make_hub_config(tmp_path, mosquitto.port, None, legacy_reports=False, max_age_s=30 * 86400.0)
    async with started_hub(cfg) as h:
        yield h


@pytest.fixture
async def two_boxes(strict_hub: Hub, mosquitto: Service) -> AsyncIterator[tuple[Publisher, Publisher]]:
    """Box of Định Long (to be stolen) with cam-dl, box of Định Tân with cam-dt, both registered and reporting."""
    stolen, honest = Publisher(mosquitto.port), Publisher(mosquitto.port)
    stolen.publish(
        topic(HOME, "edge", STOLEN, "status"),
        status(inventory=[{"id": "cam-dl", "commune": HOME, "name": "Cổng UBND Định Long"}]),
        retain=True,
    )
    honest.publish(
        topic(OTHER, "edge", NEIGHBOUR, "status"),
        status(inventory=[{"id": "cam-dt", "commune": OTHER, "name": "Chợ Định Tân"}]),
        retain=True,
    )
    honest.publish(topic(OTHER, "camera", "cam-dt", "health"), health(NEIGHBOUR, 0))
    stolen.publish(topic(HOME, "camera", "cam-dl", "health"), health(STOLEN, 0))
    cams = strict_hub.store.cameras
    await wait_for(
        lambda: all(
            cams.get(k) and cams[k].status == "ok" for k in (f"{D}/{HOME}/cam-dl", f"{D}/{OTHER}/cam-dt")
        )
    )
    try:
        yield stolen, honest
    finally:
        stolen.close()
        honest.close()


@pytest.fixture
def web_config(web_config: HubConfig) -> Iterator[HubConfig]:
    """The web app behind a reverse proxy on the loopback (the test client's address)."""
    web_config.http.trusted_proxies = ["127.0.0.1"]
    yield web_config


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    broker = secure_broker_in(tmp_path)
    yield broker
    broker.stop()
