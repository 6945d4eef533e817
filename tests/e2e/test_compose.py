"""docker-compose.yml is checked statically (no Docker engine here): services, mounts, volumes, environment,
ports and dependencies are consistent, and the configs it mounts validate with the real config models.
The deployment's Mosquitto config and ACL are run with Debian's mosquitto to prove the ACL does what it says."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from contract.configfile import load
from devtools import camsim_spec
from devtools.services import free_port, port_open, wait_until
from edge_agent.config import EdgeConfig
from hub.compose import HubConfig

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "docker" / "env.example"

EXPECTED_SERVICES = {"mosquitto", "influxdb", "grafana", "hub", "camsim", "edge-agent"}
# Set inside the InfluxDB image by its entrypoint for init scripts, not by us.
IMAGE_PROVIDED = {"influxdb": {"DOCKER_INFLUXDB_INIT_BUCKET_ID"}}
# What each service listens on inside its container.
CONTAINER_PORTS = {"mosquitto": 1883, "influxdb": 8086, "grafana": 3000, "hub": 8080}

_COMPOSE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_CONFIG_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?=])[^}]*)?\}")
_SHELL_VAR = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)(?:(:?[-?=])[^}]*)?\}?")


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: line without '=': {raw!r}"
        env[key.strip()] = value.strip()
    return env


def interpolate(value: str, env: dict[str, str], missing: list[str]) -> str:
    """Compose's own interpolation: ${X}, ${X:-d}, ${X-d}, ${X:?err}, ${X?err}; $$ is a literal $."""

    def sub(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        val = env.get(name)
        if op in (":-", ":?") and not val:
            val = None
        if val is not None:
            return val
        if op in (":-", "-"):
            return arg or ""
        missing.append(name)
        return ""

    return _COMPOSE_VAR.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


def interpolate_tree(obj: Any, env: dict[str, str], missing: list[str]) -> Any:
    if isinstance(obj, str):
        return interpolate(obj, env, missing)
    if isinstance(obj, dict):
        return {k: interpolate_tree(v, env, missing) for k, v in obj.items()}
    if isinstance(obj, list):
        return [interpolate_tree(v, env, missing) for v in obj]
    return obj


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    missing: list[str] = []
    data = interpolate_tree(raw, env, missing)
    assert not missing, (
        f"docker-compose.yml needs variables that docker/env.example lacks: {sorted(set(missing))}"
    )
    return dict(data)


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def service_env(svc: dict[str, Any]) -> dict[str, str]:
    e = svc.get("environment") or {}
    if isinstance(e, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in e)
    return {k: "" if v is None else str(v) for k, v in e.items()}


def bind_mounts(svc: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    for vol in svc.get("volumes") or []:
        source, _, rest = vol.partition(":")
        if source.startswith((".", "/")):
            yield (ROOT / source).resolve(), rest.split(":")[0]


def named_volumes(svc: dict[str, Any]) -> Iterator[str]:
    for vol in svc.get("volumes") or []:
        source = vol.split(":")[0]
        if not source.startswith((".", "/")):
            yield source


def test_services_present(compose: dict[str, Any]) -> None:
    assert set(services(compose)) == EXPECTED_SERVICES


def test_every_variable_has_a_value_and_env_example_has_no_stale_keys(raw: dict[str, Any]) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    used = {m.group(1) for m in _COMPOSE_VAR.finditer(text)}
    example = read_env_file(ENV_EXAMPLE)
    required = {m.group(1) for m in _COMPOSE_VAR.finditer(text) if m.group(2) in (":?", "?", None)}
    assert required <= set(example), f"required but not in env.example: {sorted(required - set(example))}"
    assert set(example) <= used, f"env.example keys nothing uses: {sorted(set(example) - used)}"


def test_bind_mounts_exist_in_repo(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        for source, target in bind_mounts(svc):
            assert source.is_relative_to(ROOT), f"{name}: mount {source} is outside the repository"
            assert source.exists(), f"{name}: mounted {source.relative_to(ROOT)} does not exist"
            if Path(target).suffix:
                assert source.is_file(), f"{name}: {source.relative_to(ROOT)} should be a file for {target}"


def test_named_volumes_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {v for svc in services(compose).values() for v in named_volumes(svc)}
    assert used <= declared, f"undeclared volumes: {sorted(used - declared)}"
    assert declared <= used, f"declared but unused volumes: {sorted(declared - used)}"


def test_build_contexts_and_dockerfiles(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        build = svc.get("build")
        if not build:
            assert "image" in svc, f"{name} has neither image nor build"
            continue
        context = (ROOT / build["context"]).resolve()
        dockerfile = context / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        for line in dockerfile.read_text(encoding="utf-8").splitlines():
            if line.startswith("COPY "):
                *sources, _dest = shlex.split(line)[1:]
                for src in sources:
                    assert (context / src).exists(), f"{dockerfile.name}: COPY {src} does not exist"


def test_ports_are_sane(compose: dict[str, Any]) -> None:
    host_ports: dict[str, str] = {}
    for name, svc in services(compose).items():
        for spec in svc.get("ports") or []:
            parts = str(spec).split(":")
            assert len(parts) == 3, f"{name}: publish {spec!r} as HOST_IP:HOST_PORT:CONTAINER_PORT"
            ip, host, container = parts
            assert ip in ("0.0.0.0", "127.0.0.1"), f"{name}: odd bind address {ip}"
            assert 0 < int(host) < 65536
            assert int(container) == CONTAINER_PORTS[name], (
                f"{name}: container listens on {CONTAINER_PORTS[name]}"
            )
            assert host not in host_ports, f"host port {host} used by {host_ports[host]} and {name}"
            host_ports[host] = name


def test_depends_on_is_sane(compose: dict[str, Any]) -> None:
    svcs = services(compose)
    for name, svc in svcs.items():
        deps = svc.get("depends_on") or {}
        for dep, cond in deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps):
            assert dep in svcs, f"{name} depends on unknown {dep}"
            assert dep != name
            if cond.get("condition") == "service_healthy":
                assert "healthcheck" in svcs[dep], (
                    f"{name} waits for {dep} to be healthy but it has no healthcheck"
                )
            # A service that always starts must not need one that only starts with a profile.
            if not svc.get("profiles"):
                assert not svcs[dep].get("profiles"), f"{name} depends on profile-only {dep}"

    def visit(n: str, path: tuple[str, ...]) -> None:
        assert n not in path, f"depends_on cycle: {' -> '.join((*path, n))}"
        for d in svcs[n].get("depends_on") or {}:
            visit(d, (*path, n))

    for n in svcs:
        visit(n, ())


def mounted_files(svc: dict[str, Any]) -> Iterator[Path]:
    for source, _ in bind_mounts(svc):
        if source.is_file():
            yield source
        elif source.is_dir():
            yield from (p for p in source.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".sh"))


def test_mounted_configs_get_their_environment(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        have = set(service_env(svc)) | IMAGE_PROVIDED.get(name, set())
        for path in mounted_files(svc):
            text = path.read_text(encoding="utf-8")
            pattern = _SHELL_VAR if path.suffix == ".sh" else _CONFIG_VAR
            for m in pattern.finditer(text):
                if m.group(2) in (":-", "-", ":=", "="):
                    continue  # has a default
                assert m.group(1) in have, f"{name}: {path.relative_to(ROOT)} uses ${m.group(1)}, not set"


@pytest.fixture
def compose_env(monkeypatch: pytest.MonkeyPatch, compose: dict[str, Any]) -> Any:
    def apply(service: str) -> None:
        for k in list(os.environ):
            monkeypatch.delenv(k)
        for k, v in service_env(services(compose)[service]).items():
            monkeypatch.setenv(k, v)

    return apply


def container_path_to_repo(svc: dict[str, Any], container_path: str) -> Path:
    for source, target in bind_mounts(svc):
        if target == container_path:
            return source
    raise AssertionError(f"{container_path} is not mounted")


def test_hub_config_validates_and_matches_compose(compose: dict[str, Any], compose_env: Any) -> None:
    svcs = services(compose)
    hub = svcs["hub"]
    config_path = service_env(hub)["HUB_CONFIG"]
    assert hub["command"] if "command" in hub else True
    compose_env("hub")
    cfg = load(HubConfig, container_path_to_repo(hub, config_path))
    assert cfg.mqtt.host in svcs and cfg.mqtt.username == "hub"
    assert cfg.mqtt.password == service_env(svcs["mosquitto"])["HUB_MQTT_PASSWORD"]
    assert cfg.influx.api == "v2"
    assert urlsplit(cfg.influx.url).hostname in svcs
    assert cfg.influx.token == service_env(svcs["influxdb"])["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert cfg.influx.org == service_env(svcs["influxdb"])["DOCKER_INFLUXDB_INIT_ORG"]
    assert cfg.influx.bucket == service_env(svcs["influxdb"])["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert cfg.http.host == "0.0.0.0" and cfg.http.port == CONTAINER_PORTS["hub"]
    data_mounts = {v.split(":")[1] for v in hub["volumes"]}
    assert str(cfg.data_dir) in data_mounts, "hub data_dir must be on a volume"
    assert cfg.database.url.startswith(f"sqlite:///{cfg.data_dir}/")


def camsim_cameras(svc: dict[str, Any]) -> dict[str, str]:
    """Parse the simulator's command with its own parser and config rules; name -> behaviour."""
    cmd = svc["command"]
    assert cmd[:3] == ["python3", "-m", "devtools.camsim"]
    cfg = camsim_spec.load_config(camsim_spec.build_parser("camsim").parse_args(cmd[3:]))
    assert cfg.host == "0.0.0.0", "other containers must reach the RTSP server"
    return {c.name: c.behaviour for c in cfg.cameras}


def test_edge_config_validates_and_matches_compose(compose: dict[str, Any], compose_env: Any) -> None:
    svcs = services(compose)
    edge = svcs["edge-agent"]
    cmd = edge["command"]
    compose_env("edge-agent")
    cfg = load(EdgeConfig, container_path_to_repo(edge, cmd[cmd.index("--config") + 1]))
    assert cfg.mqtt.host in svcs
    accounts = dict(pair.split(":", 1) for pair in service_env(svcs["mosquitto"])["EDGE_ACCOUNTS"].split())
    assert cfg.mqtt.username == cfg.agent.id, "the ACL ties an account to the agent id of the same name"
    assert accounts.get(cfg.agent.id) == cfg.mqtt.password
    served = camsim_cameras(svcs["camsim"])
    for cam in cfg.cameras:
        url = urlsplit(cam.url)
        assert url.hostname == "camsim" and url.port == 8554
        assert url.path.lstrip("/") in served, f"{cam.id}: the simulator serves no {url.path}"


def test_grafana_provisioning_matches_mounts(compose: dict[str, Any]) -> None:
    graf = services(compose)["grafana"]
    targets = {target: source for source, target in bind_mounts(graf)}
    providers = yaml.safe_load((ROOT / "dashboards/provisioning/dashboards/ops.yaml").read_text("utf-8"))
    for prov in providers["providers"]:
        path = prov["options"]["path"]
        assert path in targets and any(targets[path].glob("*.json")), f"no dashboards mounted at {path}"
    sources = yaml.safe_load((ROOT / "dashboards/provisioning/datasources/influxdb.yaml").read_text("utf-8"))
    ds = sources["datasources"][0]
    assert ds["type"] == "influxdb" and ds["user"] == "grafana"
    assert urlsplit(service_env(graf)["INFLUX_URL"]).hostname in services(compose)


def test_influx_init_script_is_executable(compose: dict[str, Any]) -> None:
    influx = services(compose)["influxdb"]
    scripts = [s for s, t in bind_mounts(influx) if t.startswith("/docker-entrypoint-initdb.d/")]
    assert scripts, "no init script mounted"
    for s in scripts:
        # The image runs only executable *.sh files from that folder.
        assert s.suffix == ".sh" and s.stat().st_mode & stat.S_IXUSR, f"{s} must be an executable .sh"
        tracked = subprocess.run(
            ["git", "ls-files", "-s", str(s.relative_to(ROOT))], cwd=ROOT, capture_output=True, text=True
        ).stdout
        if tracked:
            assert tracked.startswith("100755"), f"{s.name} is not executable in git"
        assert subprocess.run(["bash", "-n", str(s)]).returncode == 0


# --- The deployment broker config, run for real -------------------------------------------------------------


def _pub(port: int, user: str | None, password: str | None, topic: str, *extra: str) -> int:
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", "x", "-q", "1", "-V", "5"]
    if user:
        cmd += ["-u", user, "-P", password or ""]
    return subprocess.run([*cmd, *extra], capture_output=True, timeout=10).returncode


def _sub_receives(port: int, user: str, password: str, topic: str, publish: Any) -> bool:
    """Subscribe as `user`, publish with `publish()` once the broker confirmed the subscription, and tell
    whether the subscriber got the message."""
    # Line-buffered: the SUBACK line must arrive while the subscriber runs, not when it exits.
    cmd = ["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", password]
    cmd += ["-t", topic]
    cmd += ["-C", "1", "-W", "3", "-q", "1", "-V", "5", "-d"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as sub:
        assert sub.stdout is not None
        for line in sub.stdout:
            if "received suback" in line.lower():
                break
        else:
            raise AssertionError(f"{user} could not subscribe to {topic}")
        publish()
        rest = sub.stdout.read()
        sub.wait(10)
    return "x" in rest.splitlines()


@pytest.fixture
def deployment_broker() -> Iterator[int]:
    """docker/mosquitto/{mosquitto.conf,acl,entrypoint.sh} with /mosquitto/ moved into a temp folder."""
    # Mosquitto drops root privileges to the `mosquitto` user, which cannot enter pytest's 0700 tmp_path.
    tmp_path = Path(tempfile.mkdtemp(prefix="ops-mosquitto-"))
    tmp_path.chmod(0o755)
    base = tmp_path / "mosquitto"
    (base / "config").mkdir(parents=True)
    (base / "data").mkdir()
    port = free_port()
    conf = (ROOT / "docker/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    conf = conf.replace("/mosquitto/", f"{base}/").replace("listener 1883", f"listener {port} 127.0.0.1")
    (base / "config/mosquitto.conf").write_text(conf)
    shutil.copy(ROOT / "docker/mosquitto/acl", base / "config/acl")
    script = (
        (ROOT / "docker/mosquitto/entrypoint.sh")
        .read_text(encoding="utf-8")
        .replace("/mosquitto/", f"{base}/")
    )
    (base / "entrypoint.sh").write_text(script)
    for p in (base, base / "config"):
        p.chmod(0o755)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HUB_MQTT_PASSWORD": "hub-secret",
        "EDGE_ACCOUNTS": "yd-dinh-long-01:edge-secret yd-dinh-tan-01:other-secret",
    }
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen(["/bin/sh", str(base / "entrypoint.sh")], env=env, stdout=log, stderr=log)
    try:
        wait_until(lambda: port_open(port), 10, "deployment mosquitto", proc)  # type: ignore[arg-type]
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_deployment_broker_acl(deployment_broker: int) -> None:
    port = deployment_broker
    status = "ops/v1/yen_dinh/dinh_long/edge/yd-dinh-long-01/status"
    health = "ops/v1/yen_dinh/dinh_long/camera/cong-ubnd/health"
    # Anonymous and wrong passwords are refused at connect time.
    assert _pub(port, None, None, status) != 0
    assert _pub(port, "hub", "wrong", status) != 0
    # A box publishes its own status and camera health, and the hub receives them.
    assert _sub_receives(
        port, "hub", "hub-secret", "ops/v1/#", lambda: _pub(port, "yd-dinh-long-01", "edge-secret", status)
    )
    assert _sub_receives(
        port, "hub", "hub-secret", "ops/v1/#", lambda: _pub(port, "yd-dinh-long-01", "edge-secret", health)
    )
    # It cannot speak for another box (the broker drops the message; the hub sees nothing).
    other = "ops/v1/yen_dinh/dinh_tan/edge/yd-dinh-tan-01/status"
    assert not _sub_receives(
        port, "hub", "hub-secret", "ops/v1/#", lambda: _pub(port, "yd-dinh-long-01", "edge-secret", other)
    )
    # Commands reach their own box only.
    cmd = "ops/v1/yen_dinh/dinh_long/edge/yd-dinh-long-01/cmd"
    assert _sub_receives(
        port, "yd-dinh-long-01", "edge-secret", cmd, lambda: _pub(port, "hub", "hub-secret", cmd)
    )
    assert not _sub_receives(
        port, "yd-dinh-tan-01", "other-secret", cmd, lambda: _pub(port, "hub", "hub-secret", cmd)
    )
