"""Camera simulator fixtures: real GStreamer RTSP servers on free loopback ports, stopped at teardown.

    def test_x(camsim_factory):
        sim = camsim_factory({"gate": "normal", "yard": "black"})
        sim.url("gate"); sim.set_behaviour("gate", "frozen")

`camsim_module_factory` is the same with module scope, for a test module that shares one simulator; tests that
change a camera's state there should put it back or use a camera of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from devtools.camsim_client import CamSim, start_camsim

CamSimFactory = Callable[..., CamSim]


def _factory(base: Path) -> tuple[CamSimFactory, list[CamSim]]:
    started: list[CamSim] = []

    def make(cameras: Mapping[str, str | Mapping[str, Any]], **opts: Any) -> CamSim:
        sim = start_camsim(base / f"camsim{len(started)}", cameras, **opts)
        started.append(sim)
        return sim

    return make, started


@pytest.fixture
def camsim_factory(tmp_path: Path) -> Iterator[CamSimFactory]:
    make, started = _factory(tmp_path)
    yield make
    for sim in started:
        sim.stop()


@pytest.fixture(scope="module")
def camsim_module_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CamSimFactory]:
    make, started = _factory(tmp_path_factory.mktemp("camsim"))
    yield make
    for sim in started:
        sim.stop()
