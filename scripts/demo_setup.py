"""What the demo needs before and around its children: ports, the simulated cameras, config checks, demo users
and an API token, and the timing of the flaky camera."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from contract.configfile import ConfigError, load
from devtools import camsim_spec
from edge_agent.config import EdgeConfig
from hub.compose import load_config as load_hub_config
from hub.core.order_signing import load_or_create_key

CLI_TIMEOUT_S = 60


class DemoError(Exception):
    """A problem the person running the demo can fix; printed without a traceback."""


@dataclass(frozen=True)
class Ports:
    mqtt: int = 18830
    influx: int = 18086
    rtsp: int = 18554
    control: int = 18555
    hang: int = 18556
    http: int = 8080
    nvr: int = 18091

    # What each port is and the flag that moves it, for error messages.
    LABELS = {
        "mqtt": ("MQTT broker", "--mqtt-port"),
        "influx": ("InfluxDB", "--influx-port"),
        "rtsp": ("camera simulator RTSP", "--rtsp-port"),
        "control": ("camera simulator control API", "--control-port"),
        "hang": ("camera simulator hang port", "--hang-port"),
        "http": ("hub web server", "--http-port"),
        "nvr": ("fake recorder (Hikvision ISAPI)", "--nvr-port"),
    }

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def env(self) -> dict[str, str]:
        """The variables config/demo/*.yaml read (`${DEMO_MQTT_PORT:-18830}` …)."""
        return {f"DEMO_{k.upper()}_PORT": str(v) for k, v in self.as_dict().items()}

    def describe(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.as_dict().items())


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Same option the servers use, so a port in TIME_WAIT after the previous demo does not count as taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def port_problems(ports: Ports) -> list[str]:
    problems = []
    values = ports.as_dict()
    seen: dict[int, str] = {}
    for key, port in values.items():
        label, flag = Ports.LABELS[key]
        if not 1 <= port <= 65535:
            problems.append(f"{flag} {port} is not a TCP port")
        elif port in seen:
            problems.append(f"{flag} {port} is also the {Ports.LABELS[seen[port]][0]} port")
        elif port_in_use(port):
            problems.append(
                f"port {port} ({label}) is already in use on 127.0.0.1: is another demo, or a system "
                f"service, running? Stop it or choose another port with {flag}"
            )
        seen.setdefault(port, key)
    return problems


def load_simulator(path: Path) -> camsim_spec.SimConfig:
    """The simulated cameras, validated by the simulator's own rules (before anything is started)."""
    try:
        return camsim_spec.parse_config(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, ValueError) as exc:  # camsim_spec.ConfigError is a ValueError, as is bad JSON
        raise DemoError(f"{path}: {exc}") from exc


def flaky_cameras(sim: camsim_spec.SimConfig) -> list[str]:
    return [c.name for c in sim.cameras if c.behaviour == "flaky"]


def check_configs(config_dir: Path, sim: camsim_spec.SimConfig, ports: Ports) -> None:
    """Validate the demo's hub and edge configs with the real models (the DEMO_* variables must be set), and
    check that the edge agent watches exactly the simulator's cameras, before anything starts."""
    try:
        hub = load_hub_config(config_dir / "hub.yaml")
        # Its provisioning file is made later, once the broker runs: the config alone is checked here.
        # The hub's order-signing key, made now (as the hub would at its first start) so that the edge agent's
        # and the receivers' configs can name its public key before the hub runs.
        load_or_create_key(hub)
        edge = load(EdgeConfig, config_dir / "edge.yaml")
    except ConfigError as exc:
        raise DemoError(str(exc)) from exc
    problems = []
    if hub.mqtt.port != ports.mqtt or edge.mqtt.port != ports.mqtt:
        problems.append("hub.yaml and edge.yaml must use the demo's MQTT port (${DEMO_MQTT_PORT})")
    if hub.http.port != ports.http:
        problems.append("hub.yaml http.port must be ${DEMO_HTTP_PORT}")
    served = {c.name for c in sim.cameras}
    watched = set()
    for cam in edge.cameras:
        url = urlsplit(cam.url)
        if url.port == ports.hang:
            continue  # the simulator's hang port answers nothing, whatever the path
        name = url.path.strip("/")
        watched.add(name)
        if url.port != ports.rtsp or name not in served:
            problems.append(f"edge.yaml camera {cam.id}: {cam.url} is not one of the simulator's cameras")
    if served - watched:
        problems.append(f"simulated cameras no agent watches: {sorted(served - watched)}")
    if problems:
        raise DemoError("demo configs disagree:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class DemoUser:
    name: str
    password: str
    role: str
    district: str | None
    full_name: str
    what: str


DEMO_USERS = [
    DemoUser("admin", "demo-admin-2024", "admin", None, "Quản trị viên", "administrator, all districts"),
    DemoUser(
        "congan",
        "demo-congan-2024",
        "police",
        "yen_dinh",
        "Công an huyện Yên Định",
        "district police, Yên Định",
    ),
    DemoUser("lanhdao", "demo-lanhdao-2024", "leader", None, "Lãnh đạo tỉnh", "province leader, read only"),
]


def run_cli(
    cmd: list[str], env: dict[str, str], log: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    log.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, input=stdin, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    with log.open("a", encoding="utf-8") as fh:
        # Never the password (it went through stdin) nor the token (stdout of `token create`): only the command.
        fh.write(f"$ {' '.join(cmd[1:])}\nexit {proc.returncode}\n{proc.stderr}")
    return proc


def ensure_users(hub_command: Callable[..., list[str]], env: dict[str, str], log: Path) -> None:
    """Create the demo users through the hub's own CLI; --if-missing keeps existing ones as they are."""
    for u in DEMO_USERS:
        args = [
            "user",
            "add",
            u.name,
            "--role",
            u.role,
            "--name",
            u.full_name,
            "--password-stdin",
            "--if-missing",
        ]
        if u.district:
            args += ["--district", u.district]
        elif u.role != "admin":
            args.append("--province-wide")
        proc = run_cli(hub_command(*args), env, log, stdin=u.password + "\n")
        if proc.returncode != 0:
            raise DemoError(
                f"creating demo user {u.name} failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
            )


def _token_works(url: str, token: str) -> bool:
    req = urllib.request.Request(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def ensure_token(
    hub_command: Callable[..., list[str]], env: dict[str, str], path: Path, url: str, log: Path
) -> str:
    """An API token of the demo admin, kept in `path` (0600) and reused while it still works, so restarts do not
    pile up tokens."""
    if path.exists():
        token = path.read_text().strip()
        if token and _token_works(url, token):
            return token
    proc = run_cli(hub_command("token", "create", "--user", DEMO_USERS[0].name, "--name", "demo"), env, log)
    if proc.returncode != 0:
        raise DemoError(
            f"creating the demo API token failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    candidates = [w for w in proc.stdout.split() if len(w) >= 20 and re.fullmatch(r"[A-Za-z0-9_\-.~+/=]+", w)]
    if not candidates:
        raise DemoError("`hub token create` printed no token")
    token = candidates[-1]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


@dataclass
class FlakyToggler:
    """Stops the flaky cameras' streams, resumes them a period later, and so on."""

    cameras: list[str]
    period_s: float
    start: float
    stopped: bool = False
    next_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.next_at = self.start + self.period_s

    def due(self, now: float) -> list[tuple[str, bool]]:
        """(camera, stop?) actions to take at `now`; empty when nothing is due or toggling is off."""
        if self.period_s <= 0 or not self.cameras or now < self.next_at:
            return []
        self.stopped = not self.stopped
        self.next_at = now + self.period_s
        return [(c, self.stopped) for c in self.cameras]
