"""docker-compose.yml is checked statically (no Docker engine here): services, mounts, volumes, environment,
ports and dependencies are consistent, images are pinned, and the configs it mounts validate with the real config
models. The deployment's Mosquitto config is run with Debian's mosquitto, its accounts made by the hub's command
line, to prove it refuses anonymous clients and serves the hub's and the devices' accounts over TLS."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from contract.configfile import load
from devtools import camsim_spec
from devtools.services import Service, dynsec_plugin, free_port, port_open, wait_until
from edge_agent.config import EdgeConfig
from hub.compose import HubConfig
from tests.broker_support import HUB_CLIENT, SecureBroker, connect, prepare_secure_broker
from tests.e2e.compose_file import (
    COMPOSE_VAR,
    CONFIG_VAR,
    SHELL_VAR,
    bind_mounts,
    container_path_to_repo,
    interpolate_tree,
    mounted_files,
    named_volumes,
    read_env_file,
    service_env,
    services,
    volume_at,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "docker" / "env.example"

EXPECTED_SERVICES = {
    "init", "mosquitto", "influxdb", "grafana", "hub", "caddy", "camsim", "provision-sim", "edge-agent",
}  # fmt: skip
# Set inside the InfluxDB image by its entrypoint for init scripts, not by us.
IMAGE_PROVIDED = {"influxdb": {"DOCKER_INFLUXDB_INIT_BUCKET_ID"}}
# What each service listens on inside its container.
CONTAINER_PORTS = {"mosquitto": 8883, "influxdb": 8086, "grafana": 3000, "caddy": 443}


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


def test_services_present(compose: dict[str, Any]) -> None:
    assert set(services(compose)) == EXPECTED_SERVICES


def test_every_variable_has_a_value_and_env_example_has_no_stale_keys(raw: dict[str, Any]) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    used = {m.group(1) for m in COMPOSE_VAR.finditer(text)}
    example = read_env_file(ENV_EXAMPLE)
    required = {m.group(1) for m in COMPOSE_VAR.finditer(text) if m.group(2) in (":?", "?", None)}
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


def test_mounted_configs_get_their_environment(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        have = set(service_env(svc)) | IMAGE_PROVIDED.get(name, set())
        for path in mounted_files(svc):
            text = path.read_text(encoding="utf-8")
            pattern = SHELL_VAR if path.suffix == ".sh" else CONFIG_VAR
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


def test_hub_config_validates_and_matches_compose(compose: dict[str, Any], compose_env: Any) -> None:
    svcs = services(compose)
    hub = svcs["hub"]
    config_path = service_env(hub)["HUB_CONFIG"]
    compose_env("hub")
    cfg = load(HubConfig, container_path_to_repo(hub, config_path))
    # MQTT: the broker's TLS listener, this hub's own account, its password in a file on its volume.
    assert cfg.mqtt.host in svcs and cfg.mqtt.port == CONTAINER_PORTS[cfg.mqtt.host]
    assert cfg.mqtt.username == cfg.mqtt.client_id == "hub.main"
    assert cfg.mqtt.password is None and cfg.mqtt.password_file is not None
    for f in (cfg.mqtt.password_file, cfg.mqtt.tls_ca_file):
        assert volume_at(hub, str(f)) == "hub-data"
    init = (ROOT / "docker/init/init.sh").read_text(encoding="utf-8")
    assert f"--hub main --password-file {cfg.mqtt.password_file}" in init
    assert cfg.broker.accounts == "dynsec" and cfg.broker.public_port == CONTAINER_PORTS["mosquitto"]
    assert cfg.broker.dynsec_file is not None
    assert volume_at(svcs["init"], str(cfg.broker.dynsec_file)) == volume_at(
        svcs["mosquitto"], "/mosquitto/broker/dynamic-security.json"
    )
    # InfluxDB: the hub's own write-only and read-only tokens, from files the InfluxDB setup writes.
    assert cfg.influx.api == "v2" and urlsplit(cfg.influx.url).hostname in svcs
    assert cfg.influx.token is None and cfg.influx.token_file and cfg.influx.read_token_file
    setup = (ROOT / "docker/influxdb/init/10-ops-setup.sh").read_text(encoding="utf-8")
    for f, perm in ((cfg.influx.token_file, "--write-bucket"), (cfg.influx.read_token_file, "--read-bucket")):
        assert volume_at(hub, str(f)) == volume_at(svcs["influxdb"], "/var/lib/ops-tokens") == "influx-tokens"
        assert f"{perm} " in setup and f"/var/lib/ops-tokens/{f.name}" in setup
    assert "INFLUX_ADMIN_TOKEN" not in str(hub.get("environment")), "the hub never gets the admin token"
    assert cfg.influx.org == service_env(svcs["influxdb"])["DOCKER_INFLUXDB_INIT_ORG"]
    assert cfg.influx.bucket == service_env(svcs["influxdb"])["DOCKER_INFLUXDB_INIT_BUCKET"]
    # Web: only through the HTTPS proxy, cookies Secure.
    assert cfg.http.host == "0.0.0.0" and cfg.http.port == 8080 and "ports" not in hub
    assert cfg.http.secure_cookies and cfg.http.public_url.startswith("https://")
    caddyfile = container_path_to_repo(svcs["caddy"], "/etc/caddy/Caddyfile").read_text(encoding="utf-8")
    assert (
        f"reverse_proxy hub:{cfg.http.port}" in caddyfile and "tls /certs/web.crt /certs/web.key" in caddyfile
    )
    assert volume_at(svcs["caddy"], "/certs/web.crt") == volume_at(svcs["init"], "/web-certs/web.crt")
    data_mounts = {v.split(":")[1] for v in hub["volumes"]}
    assert str(cfg.data_dir) in data_mounts, "hub data_dir must be on a volume"
    assert cfg.database.url.startswith(f"sqlite:///{cfg.data_dir}/")


def test_images_are_pinned_by_version(compose: dict[str, Any]) -> None:
    pinned = re.compile(r"^[\w./-]+:\d+\.\d+(\.\d+)?([.-][\w.-]+)?$")
    for name, svc in services(compose).items():
        if "build" not in svc:
            image = svc["image"]
            assert pinned.match(image) and not image.endswith(":latest"), f"{name}: {image} is not pinned"
            if re.search(r":\d+\.\d+$", image) and "grafana" not in image:
                raise AssertionError(f"{name}: {image} names a minor version only; pin the patch release")
    for dockerfile in (ROOT / "docker").glob("*.Dockerfile"):
        for line in dockerfile.read_text(encoding="utf-8").splitlines():
            if line.startswith("FROM "):
                assert re.search(r":\d+\.\d+(\.\d+)?-", line), f"{dockerfile.name}: {line} is not pinned"
    app = (ROOT / "docker/app.Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.lock" in app and "--no-deps ." in app


def test_the_lock_files_cover_the_project(compose: dict[str, Any]) -> None:
    """requirements.lock holds every runtime dependency of pyproject.toml, pinned with hashes."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for lock, deps in (
        (
            "requirements.lock",
            project["dependencies"]
            + project["optional-dependencies"]["postgres"]
            + project["optional-dependencies"]["areas"],
        ),
        ("requirements-dev.lock", project["optional-dependencies"]["dev"]),
    ):
        text = (ROOT / lock).read_text(encoding="utf-8").lower()
        pins = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+) \\$", text, re.M))
        for dep in deps:
            name = re.split(r"[<>=\[ ;]", dep, maxsplit=1)[0].lower().replace("_", "-")
            assert name in pins, f"{lock} lacks {name}: run pip-compile (docs/OPERATIONS.md)"
        assert text.count("--hash=sha256:") >= len(pins)


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
    # The config alone: its provisioning file is written by `provision-sim` into the same volume.
    cfg = load(EdgeConfig, container_path_to_repo(edge, cmd[cmd.index("--config") + 1]))
    assert cfg.mqtt.host in svcs and cfg.mqtt.port == CONTAINER_PORTS["mosquitto"]
    assert cfg.mqtt.username is None and cfg.mqtt.password is None, "its account comes from the hub"
    assert cfg.mqtt.provisioning is not None
    prov = svcs["provision-sim"]
    script = " ".join(prov["command"])
    device = f"{cfg.agent.district}/{cfg.agent.commune}/{cfg.agent.id}"
    out = re.search(r"device provision edge (\S+) --out (\S+)", script)
    assert out and out.group(1) == device, script
    assert volume_at(prov, out.group(2)) == volume_at(edge, str(cfg.mqtt.provisioning)) == "edge-data"
    assert PurePosixPath(out.group(2)).name == cfg.mqtt.provisioning.name
    assert edge["depends_on"]["provision-sim"]["condition"] == "service_completed_successfully"
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


def test_init_scripts_are_executable(compose: dict[str, Any]) -> None:
    influx = services(compose)["influxdb"]
    scripts = [s for s, t in bind_mounts(influx) if t.startswith("/docker-entrypoint-initdb.d/")]
    scripts += [s for s, t in bind_mounts(services(compose)["init"]) if t.endswith(".sh")]
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


@pytest.fixture
def deployment_broker(tmp_path: Path) -> Iterator[tuple[SecureBroker, int]]:
    """docker/mosquitto/mosquitto.conf as it is, its paths moved into a temp folder, with the certificates and
    the account file made by the hub's own command line (what docker/init/init.sh runs)."""
    port, plain = free_port(), free_port()
    broker, issued = prepare_secure_broker(tmp_path, port)
    base = tmp_path / "mosquitto"
    (base / "data").mkdir(parents=True)
    shutil.copy(issued / "broker.crt", tmp_path / "broker" / "broker.crt")
    shutil.copy(issued / "broker.key", tmp_path / "broker" / "broker.key")
    conf = (ROOT / "docker/mosquitto/mosquitto.conf").read_text(encoding="utf-8")
    assert "/usr/lib/mosquitto_dynamic_security.so" in conf and "allow_anonymous false" in conf
    conf = (
        conf.replace("/usr/lib/mosquitto_dynamic_security.so", dynsec_plugin())
        .replace("/mosquitto/broker/", f"{tmp_path}/broker/")
        .replace("/mosquitto/data/", f"{base}/data/")
        .replace("listener 8883", f"listener {port} 127.0.0.1")
        .replace("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1")
    )
    if os.geteuid() == 0:
        conf += "user root\n"  # as devtools.services does: the plugin's file sits in a private folder
    (base / "mosquitto.conf").write_text(conf)
    log = (tmp_path / "mosquitto.log").open("wb")
    proc = subprocess.Popen(["mosquitto", "-c", str(base / "mosquitto.conf")], stdout=log, stderr=log)
    broker.service = Service("mosquitto", proc, port, base, tmp_path / "mosquitto.log")  # type: ignore[arg-type]
    try:
        wait_until(lambda: port_open(port) and port_open(plain), 10, "deployment mosquitto", proc)  # type: ignore[arg-type]
        yield broker, plain
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def test_deployment_broker_refuses_anonymous_and_serves_accounts_over_tls(
    deployment_broker: tuple[SecureBroker, int], compose: dict[str, Any]
) -> None:
    broker, plain = deployment_broker
    # The compose healthcheck passes: the plain in-container listener is up and refuses anonymous clients.
    check = services(compose)["mosquitto"]["healthcheck"]["test"][1].replace("-p 1883", f"-p {plain}")
    assert subprocess.run(["sh", "-c", check], timeout=20).returncode == 0
    assert connect(broker).refused == "Not authorized"
    assert not connect(broker, ca=None).up, "plain MQTT on the TLS port"
    # The hub's account from `broker init`, and a box's from the registry, over TLS.
    password = broker.hub_password_file.read_text().strip()
    hub = connect(broker, client_id=HUB_CLIENT, username=HUB_CLIENT, password=password)
    assert hub.up and hub.subscribe("ops/v1/#") == [1]
    box = connect(broker, broker.provision("edge", "yen_dinh/dinh_long/yd-dinh-long-01"))
    assert box.up
    assert box.publish("ops/v1/yen_dinh/dinh_long/edge/yd-dinh-long-01/status") == 0
    assert box.publish("ops/v1/yen_dinh/dinh_tan/edge/other/status") == 135
    assert box.subscribe("ops/v1/#") == [135]
    for c in (hub, box):
        c.stop()
