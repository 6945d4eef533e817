"""The demo supervisor's pieces on their own (scripts/demo_*.py): restart budget, flaky toggler, log tail,
notable lines, port problems, the supervisor's restarts and stop, leftovers of a killed demo. The whole demo:
tests/e2e/test_demo.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from demo_api import summary_line  # noqa: E402
from demo_setup import FlakyToggler, Ports, port_problems  # noqa: E402
from demo_supervisor import (  # noqa: E402
    Child,
    ChildFailed,
    LogTail,
    RestartBudget,
    Supervisor,
    ancestors,
    is_notable,
    pid_alive,
    processes_with_env,
    spawn,
)

from devtools.services import free_port  # noqa: E402

# --- pieces -------------------------------------------------------------------------------------------------


def test_restart_budget_counts_within_its_window() -> None:
    b = RestartBudget(max_restarts=2, window_s=60)
    assert b.allows(0)
    b.record(0)
    b.record(10)
    assert not b.allows(30)
    assert b.allows(61)  # the first restart has left the window


def test_flaky_toggler_alternates_and_can_be_off() -> None:
    t = FlakyToggler(["cam"], period_s=60, start=100)
    assert t.due(159) == []
    assert t.due(160) == [("cam", True)]
    assert t.due(200) == []
    assert t.due(220) == [("cam", False)]
    assert FlakyToggler(["cam"], period_s=0, start=0).due(1e9) == []


def test_log_tail_returns_whole_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("old line\n")
    tail = LogTail(log)
    assert tail.new_lines() == []
    with log.open("a") as fh:
        fh.write("one\ntw")
    assert tail.new_lines() == ["one"]
    with log.open("a") as fh:
        fh.write("o\n")
    assert tail.new_lines() == ["two"]
    log.write_text("rotated\n")  # shorter: started afresh
    assert tail.new_lines() == ["rotated"]


@pytest.mark.parametrize(
    ("line", "notable"),
    [
        ("2026-11-23 10:00:01 WARNING hub.ingest rejected 3 messages", True),
        ("2026-11-23 10:00:01 ERROR device_runtime.link connection refused", True),
        ("Traceback (most recent call last):", True),
        ('ts=2026-11-23T03:00:00Z lvl=error msg="write failed"', True),
        ("1795417052: Warning: Address already in use", True),
        ("2026-11-23 10:00:01 INFO hub.runtime started", False),
        ("camsim ready rtsp://127.0.0.1:18554/cam1", False),
    ],
)
def test_notable_lines(line: str, notable: bool) -> None:
    assert is_notable(line) is notable


def test_summary_line_names_the_troubled_cameras() -> None:
    cams = [
        {"id": "a", "status": "ok", "problems": []},
        {"id": "b", "status": "problem", "problems": ["black"]},
        {"id": "c", "status": "offline", "problems": ["unreachable"]},
    ]
    line = summary_line(cams)
    assert line.startswith("3 camera: 1 hoạt động, 1 có sự cố (b: black), 1 mất kết nối (c: unreachable)")
    assert summary_line(None) == ""


def test_port_problems_name_the_port_and_the_flag() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        ports = Ports(mqtt=taken, influx=free_port(), rtsp=free_port(), control=free_port(), hang=free_port())
        problems = port_problems(Ports(**{**ports.as_dict(), "http": free_port()}))
    assert len(problems) == 1
    assert f"port {taken} (MQTT broker) is already in use" in problems[0] and "--mqtt-port" in problems[0]
    same = Ports(
        mqtt=free_port(), influx=taken, rtsp=taken, control=free_port(), hang=free_port(), http=free_port()
    )
    assert any("--rtsp-port" in p and "InfluxDB" in p for p in port_problems(same))


def test_supervisor_restarts_within_budget_then_gives_up(tmp_path: Path) -> None:
    said: list[str] = []
    sup = Supervisor(said.append)
    log = tmp_path / "child.log"
    cmd = [sys.executable, "-c", "import sys; print('ERROR boom', flush=True); sys.exit(3)"]
    child = sup.add(
        Child("crasher", lambda: spawn(cmd, log), log, RestartBudget(max_restarts=1, window_s=60))
    )
    first = child.handle
    assert first is not None
    deadline = time.monotonic() + 10
    while first.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    sup.check(now=0)
    assert child.handle is not first and any("crasher restarted" in s for s in said)
    while child.handle.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(ChildFailed, match="crasher died 2 times"):
        sup.check(now=1)
    assert ("crasher", "ERROR boom") in list(sup.log_lines())
    sup.stop_all()


def test_stop_all_ends_process_groups_in_reverse_order(tmp_path: Path) -> None:
    said: list[str] = []
    sup = Supervisor(said.append)
    # A child with a grandchild: stopping the child's group must end both.
    script = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    a = sup.add(
        Child("first", lambda: spawn([sys.executable, "-c", script], tmp_path / "a.log"), tmp_path / "a.log")
    )
    b = sup.add(Child("second", lambda: spawn(["sleep", "60"], tmp_path / "b.log"), tmp_path / "b.log"))
    assert a.handle is not None and b.handle is not None
    group: list[int] = []
    deadline = time.monotonic() + 15  # the child's interpreter must start and spawn its own child first
    while len(group) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        group = [p for p in _all_pids() if _pgid(p) == a.handle.pid]
    assert len(group) == 2
    sup.stop_all()
    stops = [s for s in said if s.endswith("s)") and "stopped" in s]
    assert stops[0].startswith("second") and stops[1].startswith("first")
    # Signals are delivered asynchronously: give the orphaned grandchild a moment to go.
    deadline = time.monotonic() + 5
    while any(pid_alive(p) for p in [*group, b.handle.pid]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(pid_alive(p) for p in [*group, b.handle.pid])


def _all_pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_processes_with_env_finds_marked_children_but_not_ancestors(tmp_path: Path) -> None:
    mark = f"ops-test-{os.getpid()}"
    env = {**os.environ, "OPS_TEST_MARK": mark}
    child = subprocess.Popen(["sleep", "30"], env=env)
    try:
        found = processes_with_env("OPS_TEST_MARK", mark)
        assert found == [child.pid]
        assert os.getpid() in ancestors(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert processes_with_env("OPS_TEST_MARK", mark) == []


def test_leftovers_of_a_killed_demo_are_stopped_and_only_they(tmp_path: Path) -> None:
    import demo_rundir as demo

    run_dir = tmp_path / "run"
    ours = subprocess.Popen(["sleep", "30"], env={**os.environ, demo.CHILD_MARK_ENV: str(run_dir)})
    other = subprocess.Popen(
        ["sleep", "30"], env={**os.environ, demo.CHILD_MARK_ENV: str(tmp_path / "other")}
    )
    try:
        assert demo.stop_leftovers(run_dir, print) is True
        assert ours.wait(5) is not None
        assert other.poll() is None, "a process of another run folder was touched"
        assert demo.stop_leftovers(run_dir, print) is False
    finally:
        for p in (ours, other):
            p.kill()
            p.wait()


def test_one_demo_per_run_folder(tmp_path: Path) -> None:
    import demo_rundir as demo
    from demo_setup import DemoError

    with (
        demo.run_dir_lock(tmp_path),
        pytest.raises(DemoError, match=f"another demo is running with {tmp_path}"),
    ):
        with demo.run_dir_lock(tmp_path):
            pass
