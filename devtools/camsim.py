"""RTSP camera simulator: named H.264 cameras whose faults can be switched live, for tests, the demo and benchmarks.

Runs under Debian's /usr/bin/python3 because GStreamer's Python bindings live there, not in the venv, so this
module and its camsim_* siblings import only the stdlib and gi. Start it from the repo root with `/usr/bin/python3 -m devtools.camsim`;
drive it from the venv with devtools.camsim_client. docs/CAMSIM.md describes the behaviours and the control API.

Threads: the GLib main loop runs the control calls (the HTTP thread hands each over with `on_main`) and the
once-a-second tick; GStreamer serves each RTSP client in a thread of its own (signals from clients arrive
there) and streams in its own threads; the hang port has an accept thread. A camera's list of pipelines is
guarded by Simulator.lock; elements are only touched through their (thread-safe) properties.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from devtools.camsim_auth import ANONYMOUS, CameraAuth, camera_name, role_token  # noqa: E402
from devtools.camsim_cameras import Camera, LiveMedia  # noqa: E402
from devtools.camsim_pipeline import (  # noqa: E402
    Scene,
    apply_behaviour,
    clip_launch_line,
    has_element,
    label_svg,
    launch_line,
    pts_from_dts,
)
from devtools.camsim_spec import (  # noqa: E402
    BEHAVIOURS,
    ConfigError,
    SimConfig,
    UnknownCamera,
    build_parser,
    load_config,
)

log = logging.getLogger("camsim")
T = TypeVar("T")


def on_main(fn: Callable[[], T], timeout: float = 5.0) -> T:
    """Run fn on the GLib main loop and return its result (re-raising its exception) in the calling thread."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> bool:
        try:
            box["result"] = fn()
        except Exception as exc:
            box["error"] = exc
        done.set()
        return False

    GLib.idle_add(run)
    if not done.wait(timeout):
        raise TimeoutError(f"main loop did not answer within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


# A media the server suspended after a DESCRIBE is as good as prepared: the next SETUP wakes it.
READY = (GstRtspServer.RTSPMediaStatus.PREPARED, GstRtspServer.RTSPMediaStatus.SUSPENDED)
RELEASE_GRACE_MS = 1000


class Simulator:
    """The RTSP server, its cameras and their live pipelines.

    Public methods and _tick run on the GLib main loop; the signal handlers (_media_configure, _request_served,
    _media_unprepared) run in GStreamer's threads, hence self.lock around each camera's pipeline list.
    """

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(cfg.host)
        self.server.set_service(str(cfg.rtsp_port))
        self.mounts = self.server.get_mount_points()
        self.labels = has_element("rsvgoverlay")
        if not self.labels:
            log.warning("rsvgoverlay is missing (gstreamer1.0-plugins-bad): cameras show no name/clock label")
        if any(c.blur for c in cfg.cameras) and not has_element("gaussianblur"):
            raise ConfigError("blur needs the gaussianblur element (gstreamer1.0-plugins-bad), not installed")
        self.cameras = {spec.name: Camera(spec, i, spec.behaviour) for i, spec in enumerate(cfg.cameras)}
        auth = self._setup_auth()
        if auth is not None:
            self.server.set_auth(auth)
        for cam in self.cameras.values():
            cam.factory = self._make_factory(cam)
            self.mounts.add_factory(cam.path, cam.factory)
        self.lock = threading.Lock()
        self.server.connect("client-connected", self._client_connected)
        self.rtsp_port = 0

    def _make_factory(self, cam: Camera) -> Any:
        factory = GstRtspServer.RTSPMediaFactory()
        launch = clip_launch_line(cam.spec) if cam.spec.clip else launch_line(cam.spec, cam.look, self.labels)
        factory.set_launch(launch)
        factory.set_shared(True)
        for role in cam.roles:
            perm = f"{role}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            factory.add_role_from_structure(Gst.Structure.from_string(perm)[0])
        factory.connect("media-configure", self._media_configure, cam)
        return factory

    def _setup_auth(self) -> Any | None:
        """Roles: one per distinct user:pass; an open camera admits anonymous and every role."""
        protected = {c.spec.name: c.spec.auth for c in self.cameras.values() if c.spec.auth}
        if not protected:
            return None
        basic = {cred: GstRtspServer.RTSPAuth.make_basic(*cred.split(":", 1)) for cred in protected.values()}
        roles = {cred: f"user{i}" for i, cred in enumerate(sorted(basic))}
        auth = CameraAuth({name: f"Basic {basic[cred]}" for name, cred in protected.items()})
        for cred, role in roles.items():
            auth.add_basic(basic[cred], role_token(role))
        for cam in self.cameras.values():
            cam.roles = [roles[cam.spec.auth]] if cam.spec.auth else [ANONYMOUS, *roles.values()]
        return auth

    def attach(self) -> int:
        if self.server.attach(None) == 0:
            raise OSError(f"cannot listen for RTSP on {self.cfg.host}:{self.cfg.rtsp_port} (port in use?)")
        self.rtsp_port = int(self.server.get_bound_port())
        GLib.timeout_add(1000, self._tick)
        return self.rtsp_port

    def _media_configure(self, _factory: Any, media: Any, cam: Camera) -> None:
        pipe = media.get_element()
        live = LiveMedia(media, Scene.find(pipe))
        if cam.spec.clip:
            pipe.get_by_name("pay0").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, pts_from_dts)
        if live.scene is not None and live.scene.label is not None:
            with self.lock:
                shown = cam.label_time()
            live.scene.label.set_property("data", label_svg(cam.spec, shown))
        with self.lock:  # a behaviour switched meanwhile must reach this pipeline too
            if live.scene is not None:
                apply_behaviour(live.scene, cam.behaviour, cam.spec, cam.look)
            cam.media.append(live)
        media.connect("unprepared", self._media_unprepared, cam)
        log.info("camera %s: pipeline started (%s)", cam.spec.name, cam.behaviour)

    def _client_connected(self, _server: Any, client: Any) -> None:
        client.connect("describe-request", self._request_served)
        client.connect("setup-request", self._request_served)

    def _request_served(self, _client: Any, ctx: Any) -> None:
        """Keep the pipeline a client was just served from (client thread, right after the answer went out).

        A shared media that loses its last client is torn down, and a client arriving meanwhile (an agent's
        DESCRIBE preflight followed by its real open is exactly that) gets 503 from the server: a real camera
        would just answer. So we hold a prepare count of our own until nobody has watched for linger_s. Taken
        here, it is in place before this client can have gone again.
        """
        cam = self.cameras.get(camera_name(ctx.uri.abspath)) if ctx.uri is not None else None
        if cam is None:
            return
        with self.lock:
            for live in cam.media:
                if not (live.kept or live.released) and cam.streaming and live.media.get_status() in READY:
                    live.kept = bool(live.media.prepare(None))

    def _release(self, cam: Camera, grace_ms: int = RELEASE_GRACE_MS) -> None:
        """Let the camera's pipelines go (main loop).

        The mount gets a fresh factory first, so new clients build a new pipeline. A client thread that looked up
        the old factory just before may still be about to prepare the old pipeline: our count goes only after
        grace_ms, by when that client holds a count of its own.
        """
        with self.lock:
            cam.factory = self._make_factory(cam)
            if cam.streaming:
                self.mounts.add_factory(cam.path, cam.factory)
            kept = [live for live in cam.media if live.kept]
            for live in kept:
                live.kept, live.released = False, True
            cam.idle_since = None

        def unprepare() -> bool:
            for live in kept:
                live.media.unprepare()
            return False

        if grace_ms:
            GLib.timeout_add(grace_ms, unprepare)
        else:
            unprepare()

    def _media_unprepared(self, media: Any, cam: Camera) -> None:
        with self.lock:
            cam.media = [m for m in cam.media if m.media is not media]
        log.info("camera %s: pipeline stopped", cam.spec.name)

    def _tick(self) -> bool:
        """Once a second: advance the label clocks; release pipelines nobody has played for linger_s."""
        now = time.monotonic()
        for cam in self.cameras.values():
            media = cam.media
            if cam.behaviour not in ("frozen", "black", "covered") and media:
                svg = label_svg(cam.spec, time.time())
                for live in media:
                    if live.scene is not None and live.scene.label is not None:
                        live.scene.label.set_property("data", svg)
            if not any(live.kept for live in media) or self.sessions(cam.path):
                cam.idle_since = None
            elif cam.idle_since is None:
                cam.idle_since = now
            elif now - cam.idle_since >= self.cfg.linger_s:
                log.info("camera %s: nobody watched for %.0f s", cam.spec.name, now - cam.idle_since)
                self._release(cam)
        return True

    def camera(self, name: str) -> Camera:
        cam = self.cameras.get(name)
        if cam is None:
            raise UnknownCamera(f"unknown camera {name!r}; known: {', '.join(self.cameras)}")
        return cam

    def set_behaviour(self, name: str, behaviour: str) -> dict[str, Any]:
        cam = self.camera(name)
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; one of: {', '.join(BEHAVIOURS)}")
        why = cam.can(behaviour)
        if why:
            raise ValueError(why)
        with self.lock:
            cam.behaviour = behaviour
            cam.frozen_label_at = None  # frozen from now: the picture of this moment, in every pipeline
            svg = label_svg(cam.spec, cam.label_time()) if behaviour == "frozen" else None
            for live in cam.media:
                if svg is not None and live.scene is not None and live.scene.label is not None:
                    live.scene.label.set_property("data", svg)
                if live.scene is not None:
                    apply_behaviour(live.scene, cam.behaviour, cam.spec, cam.look)
        log.info("camera %s: behaviour %s", name, behaviour)
        return self.describe(cam)

    def stop_stream(self, name: str) -> dict[str, Any]:
        """Unmount (new clients get 404) and close every client that plays this camera."""
        cam = self.camera(name)
        if cam.streaming:
            cam.streaming = False
            self.mounts.remove_factory(cam.path)
            closed = self.close_clients(cam.path)
            self._release(cam)
            log.info("camera %s: stopped, %d client(s) closed", name, closed)
        return self.describe(cam)

    def resume_stream(self, name: str) -> dict[str, Any]:
        cam = self.camera(name)
        if not cam.streaming:
            cam.streaming = True
            self.mounts.add_factory(cam.path, cam.factory)
            log.info("camera %s: resumed", name)
        return self.describe(cam)

    def close_clients(self, path: str | None) -> int:
        """Close the connections of clients with a session on `path` (all clients when None)."""
        closed = 0

        def session_on_path(_client: Any, session: Any) -> Any:
            hit = path is None or session.get_media(path)[0] is not None
            return GstRtspServer.RTSPFilterResult.REF if hit else GstRtspServer.RTSPFilterResult.KEEP

        def pick(_server: Any, client: Any) -> Any:
            nonlocal closed
            if path is None or client.session_filter(session_on_path):
                closed += 1
                return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.KEEP

        self.server.client_filter(pick)
        return closed

    def sessions(self, path: str) -> int:
        count = 0

        def visit(_pool: Any, session: Any) -> Any:
            nonlocal count
            count += session.get_media(path)[0] is not None
            return GstRtspServer.RTSPFilterResult.KEEP

        self.server.get_session_pool().filter(visit)
        return count

    def describe(self, cam: Camera) -> dict[str, Any]:
        s = cam.spec
        return {
            "name": s.name,
            "behaviour": cam.behaviour,
            "streaming": cam.streaming,
            "url": f"rtsp://{self.cfg.public_host}:{self.rtsp_port}{cam.path}",
            "width": s.width,
            "height": s.height,
            "fps": s.fps,
            "auth": s.auth is not None,
            "blur": s.blur,
            "clip": s.clip,
            "pipelines": len(cam.media),
            "sessions": self.sessions(cam.path),
        }

    def shutdown(self) -> None:
        closed = self.close_clients(None)
        for cam in self.cameras.values():
            self._release(cam, grace_ms=0)
        log.info("shut down: %d client(s) closed", closed)


def main(argv: list[str] | None = None) -> int:
    args = build_parser(__doc__.splitlines()[0]).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        cfg = load_config(args)
    except ConfigError as exc:
        print(f"camsim: configuration error: {exc}", file=sys.stderr)
        return 2
    Gst.init(None)
    from devtools.camsim_control import ControlServer, HangPort, RefusedPort

    try:
        sim = Simulator(cfg)
        rtsp_port = sim.attach()
        hang = HangPort(cfg.host, cfg.hang_port)
        refused = RefusedPort(cfg.host)
        control = ControlServer(cfg.control_host, cfg.control_port, sim, on_main, hang.port, refused.port)
    except (OSError, ConfigError) as exc:
        print(f"camsim: cannot start: {exc}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, lambda: (loop.quit(), False)[1])
    urls = " ".join(f"rtsp://{cfg.public_host}:{rtsp_port}/{name}" for name in sim.cameras)
    print(
        f"camsim ready {urls} control=http://{cfg.control_host}:{control.port} "
        f"hang_port={hang.port} refused_port={refused.port}",
        flush=True,
    )
    try:
        loop.run()
    finally:
        control.close()
        hang.close()
        refused.close()
        sim.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
