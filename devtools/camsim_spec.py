"""Camera simulator configuration: what cameras to serve and how, validated with errors that name the culprit.

Stdlib only, so both sides use it: the simulator under Debian's python3 and the venv-side launcher
(devtools.camsim_client), which checks a configuration before it spawns anything.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# normal/flaky: healthy picture (flaky is the demo's label for a camera that gets stopped and resumed).
# The rest are faults an edge agent must recognise; `slow` delivers SLOW_FPS frames a second.
BEHAVIOURS = ("normal", "flaky", "black", "frozen", "covered", "moved", "slow", "blurred")
HEALTHY = ("normal", "flaky")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "control_host": "127.0.0.1",
    "rtsp_port": 8554,
    "control_port": 8555,
    "hang_port": 0,
    "width": 640,
    "height": 360,
    "fps": 10,
    "linger_s": 5.0,
}
CAMERA_KEYS = {"name", "behaviour", "auth", "width", "height", "fps", "blur", "clip"}
LIMITS = {"width": (32, 3840), "height": (32, 2160), "fps": (1, 60)}


class ConfigError(ValueError):
    """A configuration value is wrong; the message says which one and why."""


class UnknownCamera(LookupError):
    """A request named a camera the simulator does not serve."""


@dataclass(frozen=True)
class CameraSpec:
    name: str
    behaviour: str
    width: int
    height: int
    fps: int
    auth: str | None = None  # "user:pass": clients must send these (RTSP basic auth) or get 401
    blur: bool = False  # build the blur stage (costs CPU on every frame) so `blurred` can be switched on
    # An H.264 Annex B byte-stream file served in a loop as it is (width/height/fps must describe it).
    clip: str | None = None


@dataclass(frozen=True)
class SimConfig:
    cameras: list[CameraSpec]
    host: str = DEFAULTS["host"]
    control_host: str = DEFAULTS["control_host"]
    rtsp_port: int = DEFAULTS["rtsp_port"]
    control_port: int = DEFAULTS["control_port"]
    hang_port: int = DEFAULTS["hang_port"]
    linger_s: float = DEFAULTS["linger_s"]  # a pipeline outlives its last client this long (then stops)

    @property
    def public_host(self) -> str:
        """Host for URLs: a wildcard listen address is reached through loopback here."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host


def _int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        else:
            raise ConfigError(f"{what} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{what} must be between {low} and {high}, got {value}")
    return int(value)


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ConfigError(f"{what} must be true or false, got {value!r}")


def _host(value: Any, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Za-z.:-]{1,253}", value):
        raise ConfigError(f"{what} must be an IP address or host name, got {value!r}")
    return value


def check_auth(value: Any, what: str) -> str:
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"{what} must be 'user:password', got {value!r}")
    user, password = value.split(":", 1)
    if not user or not password:
        raise ConfigError(f"{what}: user and password must both be non-empty")
    if any(not ch.isprintable() or ch.isspace() for ch in value):
        raise ConfigError(f"{what}: user and password must be printable characters without spaces")
    return value


def parse_camera(raw: Any, defaults: dict[str, Any], where: str) -> CameraSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object, got {type(raw).__name__}")
    unknown = set(raw) - CAMERA_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(CAMERA_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ConfigError(
            f"{where}: name {name!r} must be lowercase letters, digits, '_' or '-' (at most 64, not starting with _/-)"
        )
    where = f"camera {name!r}"
    behaviour = raw.get("behaviour", "normal")
    if behaviour not in BEHAVIOURS:
        raise ConfigError(f"{where}: unknown behaviour {behaviour!r}; one of: {', '.join(BEHAVIOURS)}")
    size = {k: _int(raw.get(k, defaults[k]), f"{where}: {k}", *LIMITS[k]) for k in LIMITS}
    if size["width"] % 2 or size["height"] % 2:
        raise ConfigError(
            f"{where}: width and height must be even (H.264 4:2:0), got {size['width']}x{size['height']}"
        )
    auth = check_auth(raw["auth"], f"{where}: auth") if raw.get("auth") is not None else None
    blur = _bool(raw.get("blur", False), f"{where}: blur") or behaviour == "blurred"
    clip = check_clip(raw["clip"], f"{where}: clip") if raw.get("clip") is not None else None
    if clip and (blur or behaviour not in HEALTHY):
        raise ConfigError(
            f"{where}: a clip camera plays its file as it is; behaviour must be normal or flaky"
        )
    return CameraSpec(name, behaviour, size["width"], size["height"], size["fps"], auth, blur, clip)


def check_clip(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{what} must be the path of an H.264 byte-stream file, got {value!r}")
    path = Path(value)
    if path.suffix.lower() not in (".h264", ".264"):
        raise ConfigError(
            f"{what}: {value!r} must be a raw H.264 byte-stream (.h264 or .264), not a container"
        )
    if "%" in value or '"' in value:
        raise ConfigError(f'{what}: {value!r}: the path must not contain % or " (multifilesrc patterns)')
    if not path.is_file():
        raise ConfigError(f"{what}: {value!r} is not a readable file")
    return str(path.resolve())


def parse_camera_arg(text: str) -> dict[str, Any]:
    """`NAME=BEHAVIOUR[,key=value...]` from the command line, as the dict form of the JSON config."""
    name, sep, rest = text.partition("=")
    if not sep or not rest:
        raise ConfigError(f"--camera {text!r}: expected NAME=BEHAVIOUR[,key=value...]")
    behaviour, *pairs = rest.split(",")
    raw: dict[str, Any] = {"name": name, "behaviour": behaviour}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in CAMERA_KEYS - {"name", "behaviour"}:
            raise ConfigError(
                f"--camera {text!r}: bad option {pair!r}; use auth=, width=, height=, fps=, blur=, clip="
            )
        raw[key] = value
    return raw


def parse_config(data: Any, source: str = "config") -> SimConfig:
    """Validate the JSON form: top-level defaults and a list of camera objects."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a JSON object")
    unknown = set(data) - set(DEFAULTS) - {"cameras"}
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {sorted(unknown)}")
    merged = {**DEFAULTS, **{k: v for k, v in data.items() if v is not None}}
    for key in ("rtsp_port", "control_port", "hang_port"):
        merged[key] = _int(merged[key], f"{source}: {key}", 0, 65535)
    defaults = {k: _int(merged[k], f"{source}: {k}", *LIMITS[k]) for k in LIMITS}
    linger = merged["linger_s"]
    if isinstance(linger, bool) or not isinstance(linger, int | float) or not 0 <= linger <= 3600:
        raise ConfigError(
            f"{source}: linger_s must be a number of seconds between 0 and 3600, got {linger!r}"
        )
    cameras = data.get("cameras")
    if not isinstance(cameras, list) or not cameras:
        raise ConfigError(f"{source}: 'cameras' must be a non-empty list")
    specs = [parse_camera(raw, defaults, f"{source}: cameras[{i}]") for i, raw in enumerate(cameras)]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ConfigError(f"{source}: camera {spec.name!r} is listed twice")
        seen.add(spec.name)
    return SimConfig(
        cameras=specs,
        host=_host(merged["host"], f"{source}: host"),
        control_host=_host(merged["control_host"], f"{source}: control_host"),
        rtsp_port=merged["rtsp_port"],
        control_port=merged["control_port"],
        hang_port=merged["hang_port"],
        linger_s=float(linger),
    )


def build_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m devtools.camsim", description=description)
    p.add_argument("--config", type=Path, help="JSON file (see docs/CAMSIM.md); flags below override it")
    p.add_argument("--host", help="RTSP listen address (default 127.0.0.1)")
    p.add_argument("--control-host", help="control API listen address (default 127.0.0.1)")
    p.add_argument("--rtsp-port", type=int, help="0 picks a free port (default 8554)")
    p.add_argument("--control-port", type=int, help="0 picks a free port (default 8555)")
    p.add_argument(
        "--hang-port", type=int, help="port that accepts TCP and never answers (default: a free one)"
    )
    p.add_argument("--linger-s", type=float, help="seconds a pipeline outlives its last client (5)")
    p.add_argument("--width", type=int, help="default width of cameras (640)")
    p.add_argument("--height", type=int, help="default height of cameras (360)")
    p.add_argument("--fps", type=int, help="default frame rate of cameras (10)")
    p.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="NAME=BEHAVIOUR[,key=value...]",
        help=f"add a camera; behaviours: {', '.join(BEHAVIOURS)}; keys: auth=user:pass, width, height, fps, "
        "blur, clip=FILE.h264",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log each pipeline start/stop")
    return p


def load_config(args: argparse.Namespace) -> SimConfig:
    """The --config file (if any) with the command-line flags laid over it."""
    data: dict[str, Any] = {}
    source = "command line"
    if args.config is not None:
        source = str(args.config)
        try:
            data = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {source}: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{source} must hold a JSON object")
    for key in DEFAULTS:
        value = getattr(args, key, None)
        if value is not None:
            data[key] = value
    cli_cameras = [parse_camera_arg(text) for text in args.camera]
    if cli_cameras:
        listed = data.get("cameras") or []
        if not isinstance(listed, list):
            raise ConfigError(f"{source}: 'cameras' must be a list")
        data["cameras"] = [*listed, *cli_cameras]
    return parse_config(data, source)
