"""Start and drive the RTSP camera simulator (devtools.camsim) from the venv. Stdlib only.

The simulator must run under Debian's /usr/bin/python3 (GStreamer's bindings live there), so this module spawns
it as a child process and talks to its JSON control API over loopback HTTP.

    sim = start_camsim(tmp_path, {"gate": "normal", "yard": "black", "hall": {"behaviour": "frozen",
                                                                             "auth": "admin:secret"}})
    sim.url("gate")            # rtsp://127.0.0.1:PORT/gate
    sim.set_behaviour("gate", "black"); sim.stop_stream("yard"); sim.resume_stream("yard")
    sim.stop()
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.camsim_spec import parse_config
from devtools.lifeline import die_with_parent
from devtools.services import HOST, Service, require, wait_until

SERVER_PYTHON = "/usr/bin/python3"
REPO_ROOT = Path(__file__).resolve().parents[1]
READY_RE = re.compile(r"^camsim ready .*control=http://(?P<host>[^:\s]+):(?P<port>\d+)", re.MULTILINE)


class CamSimError(RuntimeError):
    """The control API refused a request; `status` is its HTTP status, the message its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"camsim control API answered {status}: {message}")
        self.status = status
        self.message = message


@dataclass
class CamSim:
    service: Service
    rtsp_port: int
    control_port: int
    hang_port: int
    refused_port: int
    credentials: dict[str, str] = field(default_factory=dict)  # camera name -> "user:pass"
    host: str = HOST
    control_host: str = HOST

    def url(self, name: str, credentials: bool | str = True) -> str:
        """RTSP URL of a camera; with its credentials if it has some (False: none, "u:p": these instead)."""
        cred = self.credentials.get(name) if credentials is True else (credentials or None)
        userinfo = f"{cred}@" if cred else ""
        return f"rtsp://{userinfo}{self.host}:{self.rtsp_port}/{name}"

    @property
    def hang_url(self) -> str:
        """A port that accepts TCP connections and never answers."""
        return f"rtsp://{self.host}:{self.hang_port}/hang"

    @property
    def refused_url(self) -> str:
        """A port held by the simulator but not listening: connections are refused."""
        return f"rtsp://{self.host}:{self.refused_port}/refused"

    @property
    def control_url(self) -> str:
        return f"http://{self.control_host}:{self.control_port}"

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.control_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return dict(json.loads(resp.read()))
        except urllib.error.HTTPError as exc:
            try:
                message = str(json.loads(exc.read()).get("error", exc.reason))
            except (ValueError, AttributeError):
                message = str(exc.reason)
            raise CamSimError(exc.code, message) from None

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/health")

    def cameras(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/cameras")["cameras"])

    def camera(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"/cameras/{name}")

    def stop_stream(self, name: str) -> dict[str, Any]:
        """New clients get 404 and connected ones are disconnected, until resume_stream."""
        return self.request("POST", f"/cameras/{name}/stop")

    def resume_stream(self, name: str) -> dict[str, Any]:
        return self.request("POST", f"/cameras/{name}/resume")

    def set_behaviour(self, name: str, behaviour: str) -> dict[str, Any]:
        """Switch live (connected clients see the change within a frame or two)."""
        return self.request("POST", f"/cameras/{name}/behaviour", {"behaviour": behaviour})

    def alive(self) -> bool:
        return self.service.alive()

    def log_tail(self, n: int = 40) -> str:
        return self.service.log_tail(n)

    def stop(self, timeout: float = 10.0) -> None:
        self.service.stop(timeout)

    def __enter__(self) -> CamSim:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def camsim_config(
    cameras: Mapping[str, str | Mapping[str, Any]],
    rtsp_port: int | None = None,
    control_port: int | None = None,
    **opts: Any,
) -> dict[str, Any]:
    """The simulator's JSON configuration, validated here so mistakes fail before anything is spawned.

    cameras: name -> behaviour, or name -> {"behaviour", "auth": "user:pass", "width", "height", "fps", "blur"}.
    opts: host, control_host, hang_port, width, height, fps (defaults of every camera). Ports default to 0 (free).
    """
    listed = []
    for name, spec in cameras.items():
        listed.append({"name": name, "behaviour": spec} if isinstance(spec, str) else {"name": name, **spec})
    config = {"rtsp_port": rtsp_port or 0, "control_port": control_port or 0, "hang_port": 0, **opts}
    config["cameras"] = listed
    parse_config(config, "camsim options")
    return config


def start_camsim(
    workdir: Path,
    cameras: Mapping[str, str | Mapping[str, Any]],
    rtsp_port: int | None = None,
    control_port: int | None = None,
    *,
    timeout: float = 20.0,
    verbose: bool = True,
    **opts: Any,
) -> CamSim:
    """Spawn the simulator (log in workdir/camsim.log) and return once it serves; raises with the log tail if not."""
    config = camsim_config(cameras, rtsp_port, control_port, **opts)
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "camsim.json"
    conf.write_text(json.dumps(config, indent=2), encoding="utf-8")
    log = workdir / "camsim.log"
    cmd = [SERVER_PYTHON, "-m", "devtools.camsim", "--config", str(conf)] + (["-v"] if verbose else [])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as fh:
        # New session: a Ctrl-C in the terminal goes to the supervisor, which stops the simulator in turn.
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
    service = Service("camsim", proc, 0, workdir, log)
    found: dict[str, str] = {}

    def ready() -> bool:
        with log.open("rb") as fh:
            fh.seek(start)
            match = READY_RE.search(fh.read().decode("utf-8", "replace"))
        if match:
            found.update(match.groupdict())
        return match is not None

    try:
        wait_until(ready, timeout, "camsim", proc)
    except (RuntimeError, TimeoutError) as exc:
        service.kill()
        raise RuntimeError(f"{exc}; log {log}:\n{service.log_tail()}") from None
    service.port = int(found["port"])

    def reachable(host: str) -> str:
        return HOST if host == "0.0.0.0" else host

    host, control_host = reachable(str(config.get("host") or HOST)), reachable(found["host"])
    sim = CamSim(service, 0, service.port, 0, 0, host=host, control_host=control_host)
    try:
        health = sim.health()
    except (OSError, CamSimError) as exc:
        service.kill()
        raise RuntimeError(
            f"camsim did not answer its control API: {exc}; log {log}:\n{service.log_tail()}"
        ) from None
    sim.rtsp_port, sim.hang_port, sim.refused_port = (
        health["rtsp_port"],
        health["hang_port"],
        health["refused_port"],
    )
    sim.credentials = {str(c["name"]): str(c["auth"]) for c in config["cameras"] if c.get("auth")}
    return sim


def rtsp_describe(url: str, timeout: float = 3.0) -> tuple[int, dict[str, str]]:
    """Send one RTSP DESCRIBE (Basic credentials from the URL's userinfo) and return (status, headers).

    A cheap check of what a camera answers (200, 401, 404, 503) without decoding anything.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "rtsp" or not parts.hostname:
        raise ValueError(f"not an rtsp:// URL: {url!r}")
    clean = f"rtsp://{parts.hostname}:{parts.port or 554}{parts.path or '/'}"
    lines = [f"DESCRIBE {clean} RTSP/1.0", "CSeq: 1", "Accept: application/sdp", "User-Agent: camsim-client"]
    if parts.username is not None:
        token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        lines.append("Authorization: Basic " + base64.b64encode(token.encode()).decode())
    with socket.create_connection((parts.hostname, parts.port or 554), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    match = re.match(r"RTSP/1\.0 (\d{3})", head[0])
    if match is None:
        raise ConnectionError(f"{clean}: not an RTSP answer: {head[0][:80]!r}")
    headers = dict(line.split(":", 1) for line in head[1:] if ":" in line)
    return int(match[1]), {k.strip().lower(): v.strip() for k, v in headers.items()}


def make_h264_clip(
    path: Path, width: int = 1280, height: int = 720, fps: int = 25, seconds: float = 10.0, crf: int = 28
) -> Path:
    """Encode a test clip for a `clip` camera with ffmpeg: H.264 byte-stream, no B-frames, a key frame a second.

    No B-frames: the simulator's parser gives each frame a decode time only, which must equal its display time.
    """
    ffmpeg = require("ffmpeg")
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}",
        "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-bf", "0",
        "-g", str(fps), "-pix_fmt", "yuv420p", "-f", "h264", str(path),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=max(60.0, seconds * 10))
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make {path}: {result.stderr.strip()[-500:]}")
    return path
