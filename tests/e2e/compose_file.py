"""docker-compose.yml read the way Compose reads it (tests/e2e/test_compose.py): its env file, its variable
interpolation, and what each service mounts and sets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

COMPOSE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
CONFIG_VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?=])[^}]*)?\}")
SHELL_VAR = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)(?:(:?[-?=])[^}]*)?\}?")


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

    return COMPOSE_VAR.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


def interpolate_tree(obj: Any, env: dict[str, str], missing: list[str]) -> Any:
    if isinstance(obj, str):
        return interpolate(obj, env, missing)
    if isinstance(obj, dict):
        return {k: interpolate_tree(v, env, missing) for k, v in obj.items()}
    if isinstance(obj, list):
        return [interpolate_tree(v, env, missing) for v in obj]
    return obj


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


def mounted_files(svc: dict[str, Any]) -> Iterator[Path]:
    for source, _ in bind_mounts(svc):
        if source.is_file():
            yield source
        elif source.is_dir():
            yield from (p for p in source.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".sh"))


def container_path_to_repo(svc: dict[str, Any], container_path: str) -> Path:
    for source, target in bind_mounts(svc):
        if target == container_path:
            return source
    raise AssertionError(f"{container_path} is not mounted")


def volume_at(svc: dict[str, Any], path: str) -> str:
    """The named volume mounted where `path` lies in the service's container."""
    best = ""
    volume = ""
    for vol in svc.get("volumes") or []:
        source, target = vol.split(":")[:2]
        if not source.startswith((".", "/")) and (
            path == target or path.startswith(target.rstrip("/") + "/")
        ):
            if len(target) > len(best):
                best, volume = target, source
    assert volume, f"{path} is on no volume"
    return volume
