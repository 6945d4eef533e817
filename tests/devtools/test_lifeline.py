"""A run killed hard leaves nothing running: a runner starts the real services the way tests, demo and benchmarks
do (Mosquitto, InfluxDB, PostgreSQL, a hub process), is SIGKILLed, and within seconds none of them is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RUNNER = """
import json, subprocess, sys, time
from pathlib import Path
from devtools.lifeline import die_with_parent
from devtools.pgserver import start_postgres
from devtools.services import start_influxd, start_mosquitto
work = Path(sys.argv[1])
mosq = start_mosquitto(work / "mosquitto")
influx = start_influxd(work / "influxd")
pg = start_postgres()
hub = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], preexec_fn=die_with_parent())
print(json.dumps([mosq.proc.pid, influx.proc.pid, pg.proc.pid, hub.pid]), flush=True)
time.sleep(120)
"""


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_services_die_with_a_killed_runner(tmp_path: Path) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert runner.stdout is not None
    started = json.loads(runner.stdout.readline())
    everything = descendants(runner.pid)  # the services and their own children (PostgreSQL's backends)
    assert set(started) <= everything and all(running(p) for p in started)

    runner.send_signal(signal.SIGKILL)
    runner.wait(5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(p) for p in everything):
        time.sleep(0.1)
    left = {p: cmdline(p) for p in sorted(everything) if running(p)}
    for p in left:  # do not leave them to the next test either
        os.kill(p, signal.SIGKILL)
    assert left == {}
