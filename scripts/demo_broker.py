"""The demo's secured broker: its CA and certificate, the dynamic-security file with the hub's accounts, and a
provisioning file for every demo device, all made with the hub's own command line (`python -m hub ca|broker|
device …`), so the demo runs the way a deployment does: every MQTT client has its own account, over TLS."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path

from demo_setup import DemoError

from devtools.services import BrokerSecurity

HUB_ACCOUNT = "demo"  # hub.demo: config/demo/hub.yaml's mqtt.username and client_id
EDGE = "yen_dinh/dinh_long/yd-edge-01"
EDGE_EXTRA_COMMUNES = "dinh_tan"  # the demo box also watches cameras of Định Tân


def broker_paths(run_dir: Path) -> dict[str, Path]:
    hub = run_dir / "hub"
    return {
        "dynsec": run_dir / "mosquitto" / "dynamic-security.json",
        "admin_password": hub / "secrets" / "broker-admin.password",
        "hub_password": hub / "secrets" / f"hub.{HUB_ACCOUNT}.password",
        "cert": hub / "ca" / "issued" / "broker.crt",
        "key": hub / "ca" / "issued" / "broker.key",
        "provisioning": run_dir / "provisioning",
    }


def _cli(hub_command: Callable[..., list[str]], env: dict[str, str], log: Path, *args: str) -> None:
    """`python -m hub --config … ARGS`, run in this process: a new interpreter per command (importing the hub
    and its features) costs seconds each on a small machine, and the demo makes a dozen of them. Its output
    goes to the log; none of it is secret (passwords go to 0600 files)."""
    from hub import cli

    config = hub_command()[hub_command().index("--config") + 1]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"$ hub {' '.join(args)}\n")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli.main(["--config", config, *args])
        fh.write(f"exit {rc}\n{out.getvalue()}{err.getvalue()}")
    if rc != 0:
        raise DemoError(f"`hub {' '.join(args[:2])}` failed (exit {rc}):\n{err.getvalue().strip()}")


def prepare_broker(
    hub_command: Callable[..., list[str]], env: dict[str, str], log: Path, run_dir: Path
) -> BrokerSecurity:
    """CA and the broker's certificate (kept across runs), and the plugin's file with the administrative and
    the hub's accounts (kept too, with every device account, while its password files are there)."""
    p = broker_paths(run_dir)
    _cli(hub_command, env, log, "ca", "init", "--name", "commune-ops demo CA")
    if not p["cert"].exists():
        _cli(hub_command, env, log, "ca", "issue-server", "--name", "127.0.0.1", "--name", "localhost",
             "--file-name", "broker")  # fmt: skip
    complete = all(p[k].exists() for k in ("dynsec", "admin_password", "hub_password"))
    init = ["broker", "init", "--hub", HUB_ACCOUNT, "--password-file", str(p["hub_password"])]
    _cli(hub_command, env, log, *init, *([] if complete else ["--force"]))
    return BrokerSecurity(dynsec_file=p["dynsec"], certfile=p["cert"], keyfile=p["key"])


def provision(
    hub_command: Callable[..., list[str]], env: dict[str, str], log: Path, run_dir: Path,
    kind: str, device: str, *extra: str,
) -> Path:  # fmt: skip
    """A fresh provisioning file for a demo device (its account created, or its password renewed)."""
    out = broker_paths(run_dir)["provisioning"] / f"{kind}-{device.rsplit('/', 1)[1]}.yaml"
    _cli(hub_command, env, log, "device", "provision", kind, device, "--out", str(out), *extra)
    return out


def provision_edge(
    hub_command: Callable[..., list[str]], env: dict[str, str], log: Path, run_dir: Path
) -> Path:
    return provision(hub_command, env, log, run_dir, "edge", EDGE, "--communes", EDGE_EXTRA_COMMUNES)
