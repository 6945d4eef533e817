"""Start the real services (Mosquitto, InfluxDB 1.x) on free loopback ports in a work folder.

Used by the tests, the demo and the benchmarks alike, so all three run the same configuration.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devtools.lifeline import die_with_parent

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = HOST) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.3):
        return True
    return False


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def require(binary: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if os.path.exists(p)), None
    )
    if path is None:
        raise RuntimeError(f"{binary} is not installed: run `make bootstrap` (scripts/bootstrap.sh)")
    return path


def terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    """SIGTERM, wait, then SIGKILL. True when the process was gone or left on SIGTERM within `timeout`."""
    if proc.poll() is not None:
        return True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        return False


def http_ok(url: str, status: int = 200, timeout: float = 1.0) -> bool:
    """True when a GET of `url` answers exactly `status` (readiness probes of our own services)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return bool(r.status == status)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path
    log: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        terminate(self.proc, timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = log.open("ab")
    # New session: a Ctrl-C in the terminal reaches our supervisor, which then stops children in order; and the
    # service dies with the process that started it (devtools/lifeline.py), even a SIGKILLed one.
    return subprocess.Popen(
        cmd,
        stdout=fh,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )


@dataclass(frozen=True)
class BrokerSecurity:
    """A secured broker: accounts from the dynamic-security plugin's file (written beforehand, e.g. by
    `python -m hub broker init`), TLS on the main port, and optionally client certificates required (mutual
    TLS) and a plain listener on loopback for processes of the hub machine."""

    dynsec_file: Path
    certfile: Path
    keyfile: Path
    cafile: Path | None = None
    require_certificate: bool = False
    plain_port: int | None = None


def dynsec_plugin() -> str:
    found = sorted(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")) + sorted(
        glob.glob("/usr/lib/mosquitto_dynamic_security.so")
    )
    if not found:
        raise RuntimeError("mosquitto's dynamic-security plugin is missing: run `make bootstrap`")
    return found[0]


def _secured_listeners(port: int, sec: BrokerSecurity) -> str:
    conf = (
        "per_listener_settings false\n"
        "allow_anonymous false\n"
        f"plugin {dynsec_plugin()}\n"
        f"plugin_opt_config_file {sec.dynsec_file}\n"
    )
    if os.geteuid() == 0:
        # As root, mosquitto drops to its own user before it loads the plugin, which then cannot read (nor
        # save) a file in a private folder such as pytest's or the demo's: keep the (loopback-only) broker root.
        conf += "user root\n"
    conf += f"listener {port} {HOST}\ncertfile {sec.certfile}\nkeyfile {sec.keyfile}\n"
    if sec.require_certificate:
        conf += f"cafile {sec.cafile}\nrequire_certificate true\n"
    if sec.plain_port is not None:
        conf += f"listener {sec.plain_port} {HOST}\n"
    return conf


def mosquitto_conf(port: int, workdir: Path, extra: str = "", security: BrokerSecurity | None = None) -> str:
    # max_queued_messages: the default 1000 silently drops QoS 1 messages for a hub that lags behind a burst.
    listeners = (
        f"listener {port} {HOST}\nallow_anonymous true\n"
        if security is None
        else _secured_listeners(port, security)
    )
    if security is None and os.geteuid() == 0:
        # As root mosquitto drops to its own user, and Linux clears the parent-death signal on that change
        # (devtools/lifeline.py): a killed run would leave it behind. This broker listens on loopback only.
        listeners += "user root\n"
    return (
        listeners + "persistence false\n"
        "max_queued_messages 1000000\n"
        # bounds what a runaway test or a stopped demo hub can make the broker hold in memory
        "max_queued_bytes 1073741824\n"
        "max_inflight_messages 100\n"
        "message_size_limit 16777216\n"
        "log_dest stdout\n"
        "log_type error\nlog_type warning\nlog_type notice\n"
        f"{extra}"
    )


def start_mosquitto(
    workdir: Path,
    port: int | None = None,
    extra_conf: str = "",
    timeout: float = 10.0,
    security: BrokerSecurity | None = None,
) -> Service:
    """Mosquitto on 127.0.0.1:port (no persistence): anonymous by default, or with `security` accounts from the
    dynamic-security plugin over TLS. Pass the old port to restart on the same one."""
    binary = require("mosquitto")
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(mosquitto_conf(port, workdir, extra_conf, security))
    proc = _spawn([binary, "-c", str(conf)], workdir / "mosquitto.log")
    svc = Service("mosquitto", proc, port, workdir, workdir / "mosquitto.log")
    try:
        wait_until(lambda: port_open(port), timeout, "mosquitto", proc)
    except Exception:
        svc.kill()
        raise
    return svc


def influxd_conf(
    http_port: int, rpc_port: int, workdir: Path, continuous_queries: bool = False, data_extra: str = ""
) -> str:
    """`data_extra`: more `[data]` settings (bench/disk_budget.py compacts at once to measure the disk)."""
    # Tests run the continuous queries' SELECT … INTO themselves (deterministic); the demo lets influxd run them.
    cq = "true" if continuous_queries else "false"
    return f"""reporting-disabled = true
bind-address = "{HOST}:{rpc_port}"

[meta]
  dir = "{workdir}/meta"

[data]
  dir = "{workdir}/data"
  wal-dir = "{workdir}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
{data_extra}
[http]
  enabled = true
  bind-address = "{HOST}:{http_port}"
  log-enabled = false
  auth-enabled = false

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = {cq}
"""


def _influx_ping(port: int) -> bool:
    return http_ok(f"http://{HOST}:{port}/ping", status=204, timeout=0.5)


def start_influxd(
    workdir: Path,
    port: int | None = None,
    timeout: float = 30.0,
    continuous_queries: bool = False,
    data_extra: str = "",
) -> Service:
    """InfluxDB 1.x (Debian's influxd) with its own config; data survives a restart in the same workdir."""
    binary = require("influxd")
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    rpc = free_port()
    conf = workdir / "influxdb.conf"
    conf.write_text(influxd_conf(port, rpc, workdir, continuous_queries, data_extra))
    env = {**os.environ, "INFLUXDB_CONFIG_PATH": str(conf)}
    proc = _spawn([binary, "-config", str(conf)], workdir / "influxd.log", env)
    svc = Service("influxd", proc, port, workdir, workdir / "influxd.log")
    try:
        wait_until(lambda: _influx_ping(port), timeout, "influxd", proc)
    except Exception:
        svc.kill()
        raise
    return svc


def influx_query(port: int, db: str, q: str) -> dict[str, object]:
    """Run an InfluxQL query over HTTP and return the decoded JSON (helper for tests and benchmarks)."""
    import json
    import urllib.parse

    url = f"http://{HOST}:{port}/query?" + urllib.parse.urlencode({"db": db, "q": q, "epoch": "s"})
    with urllib.request.urlopen(url, timeout=10) as r:
        return dict(json.loads(r.read()))


def influx_create_db(port: int, db: str) -> None:
    import urllib.parse

    data = urllib.parse.urlencode({"q": f'CREATE DATABASE "{db}"'}).encode()
    with urllib.request.urlopen(f"http://{HOST}:{port}/query", data=data, timeout=10) as r:
        r.read()
