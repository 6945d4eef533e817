"""`make demo`: the whole system on this machine with simulated cameras.

Starts Mosquitto, InfluxDB (Debian 1.x, own config), the RTSP camera simulator, the hub on http://127.0.0.1:8080,
one edge agent watching the simulated cameras of two communes of Yên Định and simulated loudspeaker receivers in
both communes (a test broadcast goes out once they are online and its result is printed); merges Định Tân into
Định Long as the 2025 reform did to many communes (its devices keep reporting on their old topics and show under
Định Long, "trước đây: Định Tân"); creates the demo users (a read-only province leader among them);
prints the URL and logins; shows warnings and errors of the children (everything with --verbose) and a line
whenever the camera statuses change; stops and resumes the "flaky" camera every ~75 s. Ctrl-C or SIGTERM stops everything in
reverse order. All runtime data and logs live under .run/ (or --run-dir).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_api import DemoApi, summary_line  # noqa: E402
from demo_banner import print_banner  # noqa: E402
from demo_broker import prepare_broker, provision, provision_edge  # noqa: E402
from demo_map import place_on_map  # noqa: E402
from demo_receivers import (  # noqa: E402
    DEMO_SPEAKERS,
    DISTRICT,
    MERGED_FROM,
    MERGED_INTO,
    Api,
    TestBroadcast,
    merge_demo_commune,
    merged_already,
    receiver_command,
    register_devices,
    write_receiver_config,
)
from demo_rundir import CHILD_MARK_ENV, link_log, run_dir_lock, stop_leftovers, write_state  # noqa: E402
from demo_setup import (  # noqa: E402
    DEMO_USERS,
    DemoError,
    FlakyToggler,
    Ports,
    check_configs,
    ensure_token,
    ensure_users,
    flaky_cameras,
    load_simulator,
    port_problems,
)
from demo_supervisor import (  # noqa: E402
    Child,
    ChildFailed,
    Handle,
    Supervisor,
    spawn,
)

from devtools import camsim_spec  # noqa: E402
from devtools.camsim_client import CamSim, start_camsim  # noqa: E402
from devtools.services import Service, http_ok, start_influxd, start_mosquitto, wait_until  # noqa: E402
from edge_agent.config import load_config as load_edge_config  # noqa: E402

CONFIG_DIR = ROOT / "config" / "demo"
RUN_DIR_ENV = "DEMO_RUN_DIR"
HUB_READY_TIMEOUT_S = 60


class Shutdown(BaseException):
    """Raised from the SIGINT/SIGTERM handler; a BaseException so no `except Exception` swallows it."""


def _on_signal(signum: int, _frame: object) -> NoReturn:
    raise Shutdown(signal.Signals(signum).name)


def say(msg: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    for i, line in enumerate(msg.splitlines() or [""]):
        print(f"{stamp} {'demo' if i == 0 else '    '} | {line}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--run-dir", type=Path, default=Path(env.get(RUN_DIR_ENV, ROOT / ".run")))
    d = Ports()
    p.add_argument("--mqtt-port", type=int, default=int(env.get("DEMO_MQTT_PORT", d.mqtt)))
    p.add_argument("--influx-port", type=int, default=int(env.get("DEMO_INFLUX_PORT", d.influx)))
    p.add_argument("--rtsp-port", type=int, default=int(env.get("DEMO_RTSP_PORT", d.rtsp)))
    p.add_argument("--control-port", type=int, default=int(env.get("DEMO_CONTROL_PORT", d.control)))
    p.add_argument("--hang-port", type=int, default=int(env.get("DEMO_HANG_PORT", d.hang)))
    p.add_argument("--http-port", type=int, default=int(env.get("DEMO_HTTP_PORT", d.http)))
    p.add_argument("--nvr-port", type=int, default=int(env.get("DEMO_NVR_PORT", d.nvr)))
    p.add_argument(
        "--flaky-period",
        type=float,
        default=float(env.get("DEMO_FLAKY_PERIOD", 75)),
        help="seconds between stopping and resuming the flaky camera (default 75; 0: never)",
    )
    p.add_argument("--verbose", action="store_true", help="show every log line of the children")
    return p.parse_args(argv)


@dataclass
class ServiceHandle:
    """devtools.services.Service seen as a supervisor Handle."""

    service: Service

    @property
    def pid(self) -> int:
        return self.service.proc.pid

    def alive(self) -> bool:
        return self.service.alive()

    def stop(self) -> None:
        self.service.stop()


@dataclass
class CamsimHandle:
    camsim: CamSim

    @property
    def pid(self) -> int:
        return self.camsim.service.proc.pid

    def alive(self) -> bool:
        return self.camsim.alive()

    def stop(self) -> None:
        self.camsim.stop()


def hub_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hub", "--config", str(CONFIG_DIR / "hub.yaml"), *args]


def start_children(
    sup: Supervisor, run_dir: Path, ports: Ports, sim: camsim_spec.SimConfig, env: dict[str, str]
) -> None:
    logs = run_dir / "logs"

    cli_log = logs / "hub-cli.log"
    security = prepare_broker(hub_command, env, cli_log, run_dir)

    def mosquitto() -> Handle:
        return ServiceHandle(start_mosquitto(run_dir / "mosquitto", ports.mqtt, security=security))

    def influxd() -> Handle:
        # the hub's downsampling runs as continuous queries (docs/INFLUX.md)
        return ServiceHandle(start_influxd(run_dir / "influxd", ports.influx, continuous_queries=True))

    def camsim() -> Handle:
        cameras = {
            c.name: {"behaviour": c.behaviour, "width": c.width, "height": c.height, "fps": c.fps}
            for c in sim.cameras
        }
        return CamsimHandle(
            start_camsim(
                run_dir / "camsim",
                cameras,
                rtsp_port=ports.rtsp,
                control_port=ports.control,
                hang_port=ports.hang,
                verbose=False,
            )
        )

    def hub() -> Handle:
        handle = spawn(hub_command("run"), logs / "hub.log", env)
        wait_until(lambda: hub_healthy(ports.http), HUB_READY_TIMEOUT_S, "hub", handle.proc)
        return handle

    def nvr() -> Handle:
        # A Hikvision NVR of Định Long whose channel 2 (the market junction) is not being written: the wall shows
        # the camera fine, the alert "Camera có hình nhưng không được ghi" says what the police would miss.
        cmd = [sys.executable, "-m", "devtools.fakerecorder", "--port", str(ports.nvr), "--channels", "4",
               "--days", "20", "--not-recording", "2"]  # fmt: skip
        return spawn(cmd, logs / "nvr.log", env)

    def edge() -> Handle:
        cmd = [sys.executable, "-m", "edge_agent", "--config", str(CONFIG_DIR / "edge.yaml")]
        return spawn(cmd, logs / "edge-agent.log", env)

    sup.add(Child("mosquitto", mosquitto, run_dir / "mosquitto" / "mosquitto.log"))
    link_log(run_dir, "mosquitto", run_dir / "mosquitto" / "mosquitto.log")
    sup.add(Child("influxd", influxd, run_dir / "influxd" / "influxd.log"))
    link_log(run_dir, "influxd", run_dir / "influxd" / "influxd.log")
    sup.add(Child("camsim", camsim, run_dir / "camsim" / "camsim.log"))
    link_log(run_dir, "camsim", run_dir / "camsim" / "camsim.log")
    # Every device gets its own account and file through the registry, as an administrator would give it.
    provision_edge(hub_command, env, cli_log, run_dir)
    ensure_users(hub_command, env, cli_log)
    sup.add(Child("hub", hub, logs / "hub.log"))
    sup.add(Child("nvr", nvr, logs / "nvr.log"))
    sup.add(Child("edge-agent", edge, logs / "edge-agent.log"))
    for sp in DEMO_SPEAKERS:  # simulated loudspeaker receivers (null sink), two per demo commune
        device = f"{DISTRICT}/{sp.commune}/{sp.id}"
        account = provision(hub_command, env, cli_log, run_dir, "speaker", device, "--name", sp.name)
        config = write_receiver_config(run_dir, sp, account, ports.http)
        log = logs / f"{sp.child_name}.log"
        start = functools.partial(spawn, receiver_command(sys.executable, config), log, env)
        sup.add(Child(sp.child_name, start, log))


def hub_healthy(port: int) -> bool:
    return http_ok(f"http://127.0.0.1:{port}/healthz")


def supervise(
    sup: Supervisor,
    api: DemoApi,
    flaky: FlakyToggler,
    toggle: Callable[[str, bool], None],
    verbose: bool,
    on_restart: Callable[[], None],
) -> None:
    last_summary = ""
    next_summary = 0.0
    while True:
        now = time.monotonic()
        before = sup.pids()
        sup.check(now)
        if sup.pids() != before:
            on_restart()
        for name, line in sup.log_lines(everything=verbose):
            print(f"{time.strftime('%H:%M:%S')} {name[:10]:<10} | {line}", flush=True)
        for camera, stop in flaky.due(now):
            toggle(camera, stop)
        if now >= next_summary:
            next_summary = now + 5
            summary = summary_line(api.cameras())
            if summary and summary != last_summary:
                say(summary)
                last_summary = summary
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    run_dir = args.run_dir.resolve()
    ports = Ports(
        args.mqtt_port,
        args.influx_port,
        args.rtsp_port,
        args.control_port,
        args.hang_port,
        args.http_port,
        args.nvr_port,
    )
    url = f"http://127.0.0.1:{ports.http}"
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    sup = Supervisor(say)
    rc = 0
    try:
        with run_dir_lock(run_dir):
            env = {**os.environ, **ports.env(), RUN_DIR_ENV: str(run_dir), "PYTHONUNBUFFERED": "1"}
            # Every child inherits the mark (services.py passes our environment on): it is how leftovers of a
            # crashed demo are recognised, and only those.
            env[CHILD_MARK_ENV] = str(run_dir)
            os.environ.update(env)
            if stop_leftovers(run_dir, say):
                # A process whose main thread has exited may still hold its sockets while its other threads end.
                with contextlib.suppress(TimeoutError):
                    wait_until(lambda: not port_problems(ports), 10, "ports of the leftovers")
            problems = port_problems(ports)
            if problems:
                raise DemoError("\n".join(problems))
            sim = load_simulator(CONFIG_DIR / "camsim.json")
            check_configs(CONFIG_DIR, sim, ports)
            say(f"starting in {run_dir} (ports: {ports.describe()})")
            t0 = time.monotonic()
            try:
                start_children(sup, run_dir, ports, sim, env)
                token = ensure_token(
                    hub_command, env, run_dir / "demo-token", url, run_dir / "logs" / "hub-cli.log"
                )
                write_state(run_dir, sup, url, ports)
                edge = load_edge_config(CONFIG_DIR / "edge.yaml")
                if merged_already(Api(url, token)):
                    say(
                        f"{MERGED_FROM} was merged into {MERGED_INTO} by an earlier run: devices registered then"
                    )
                else:
                    register_devices(
                        Api(url, token),
                        edge.agent.id,
                        [(edge.commune_of(c), c.id, c.name or c.id) for c in edge.cameras
                         if edge.commune_of(c) != edge.agent.commune],
                    )  # fmt: skip
                    # Points before the merge: the merge carries the merged commune's points with its cameras.
                    place_on_map(
                        Api(url, token)
                    )  # camera points, owners, speakers' positions: the map at /map
                    merge_demo_commune(Api(url, token), say)
                say(f"all started in {time.monotonic() - t0:.0f} s")
                print_banner(url, run_dir, [(u.name, u.password, u.what) for u in DEMO_USERS])
                TestBroadcast(Api(url, token), say).start()  # one broadcast out and its report back
                camsim = sup.children[2].handle

                def toggle(camera: str, stop: bool) -> None:
                    assert isinstance(camsim, CamsimHandle)
                    try:
                        (camsim.camsim.stop_stream if stop else camsim.camsim.resume_stream)(camera)
                        say(f"camera {camera}: stream {'stopped' if stop else 'resumed'} (flaky camera)")
                    except Exception as exc:
                        say(f"camera {camera}: could not {'stop' if stop else 'resume'} its stream: {exc}")

                supervise(
                    sup,
                    DemoApi(url, token),
                    FlakyToggler(flaky_cameras(sim), args.flaky_period, time.monotonic()),
                    toggle,
                    args.verbose,
                    lambda: write_state(run_dir, sup, url, ports),
                )
            finally:
                # A second Ctrl-C must not cut the orderly stop short.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                if sup.children:
                    say("stopping")
                sup.stop_all()
                stop_leftovers(run_dir, say)
    except Shutdown as sig:
        say(f"{sig}: stopped")
    except DemoError as exc:
        say(f"ERROR: {exc}")
        rc = 2
    except ChildFailed as exc:
        say(f"ERROR: {exc}")
        rc = 1
    except Exception as exc:  # a start that failed: the children are stopped above, show why
        say(f"ERROR: {type(exc).__name__}: {exc}")
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
