"""Camera simulator pipelines: what each camera's GStreamer pipeline contains and how a behaviour changes it.

Runs under Debian's python3 with the simulator (stdlib + gi only). A synthetic camera is a static scene, a box
of scrolling bars (the traffic), and a name/clock label, composited and encoded with x264; its behaviour is
switched by changing element properties while it plays. A clip camera sends a pre-encoded H.264 file as it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from devtools.camsim_spec import CameraSpec  # noqa: E402

# Distinct static scenes (videotestsrc pattern, foreground, background ARGB) so snapshots tell cameras apart.
LOOKS: list[tuple[str, int, int]] = [
    ("smpte100", 0xFFFFFFFF, 0xFF000000),
    ("pinwheel", 0xFFE8B030, 0xFF204070),
    ("smpte-rp-219", 0xFFFFFFFF, 0xFF000000),
    ("spokes", 0xFF30C060, 0xFF402020),
    ("colors", 0xFFFFFFFF, 0xFF000000),
    ("smpte75", 0xFFFFFFFF, 0xFF000000),
    ("pinwheel", 0xFFF0F0F0, 0xFFA03030),
    ("spokes", 0xFF40D0E0, 0xFF101010),
]
COVER_GREY = 0xFF1C1C1C  # mean luma ~28: dark but above the usual black threshold (24)
BLUR_SIGMA = 4.0
SLOW_FPS = 2
# Slack the compositor grants late inputs before it gives up on them: on a busy machine a source thread can
# lag, and a frame composed without the scene (black background) would read as a fault.
LATE_NS = 200_000_000
# Never set a compositor pad's alpha to exactly 0: GStreamer 1.22's compositor skips converting a pad whose
# alpha is 0 when it starts preparing a frame, then maps that frame when it finishes; a switch that crosses 0
# between the two steps maps a missing buffer and crashes the process (seen as a GST_IS_BUFFER critical).
# 0.002 of the source adds less than half a grey level, so the picture is the same.
HIDDEN = 0.002
ICT = 7 * 3600  # Vietnam has no DST: the overlay clock shows local time like a real camera would


def has_element(name: str) -> bool:
    return Gst.ElementFactory.find(name) is not None


@dataclass
class Scene:
    """The switchable elements of a synthetic camera's pipeline."""

    bg: Any
    box: Any
    box_pad: Any
    encoder_pad: Any
    label: Any | None
    label_pad: Any | None
    blur: Any | None
    slow_probe: int | None = None
    frame_no: int = 0

    @classmethod
    def find(cls, pipe: Any) -> Scene | None:
        mix, enc = pipe.get_by_name("mix"), pipe.get_by_name("enc")
        if mix is None or enc is None:
            return None  # a clip camera: nothing to switch
        pads = {p.get_name(): p for p in mix.sinkpads}
        return cls(
            bg=pipe.get_by_name("bg"),
            box=pipe.get_by_name("box"),
            box_pad=pads["sink_1"],
            encoder_pad=enc.get_static_pad("sink"),
            label=pipe.get_by_name("label"),
            label_pad=pads.get("sink_2"),
            blur=pipe.get_by_name("blur"),
        )


def clip_launch_line(cam: CameraSpec) -> str:
    """A pre-encoded H.264 byte-stream file, looped and sent as it is (no decoding, no encoding).

    h264parse splits it into access units and, with the frame rate from the caps, gives them steady timestamps
    that run on across loops; the server's sinks pace them in real time.
    """
    location = str(cam.clip).replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'( multifilesrc location="{location}" loop=true '
        f'caps="video/x-h264,stream-format=byte-stream,framerate={cam.fps}/1" '
        "! h264parse ! video/x-h264,alignment=au ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )


def launch_line(cam: CameraSpec, look: int, label: bool) -> str:
    """The media pipeline: a static scene, a box of scrolling bars (the traffic), a name/clock label.

    Motion is confined to the box, as in a real street view; frames differ enough for a frozen check (mean abs
    difference of consecutive frames ~1 at 640x360) while the scene stays put for a moved-camera check.
    """
    w, h, fps = cam.width, cam.height, cam.fps
    pattern, fg, bg = LOOKS[look % len(LOOKS)]
    bw, bh = (w // 3) & ~1, (h // 3) & ~1
    raw = f"video/x-raw,framerate={fps}/1"
    blur = "! gaussianblur name=blur sigma=0 ! videoconvert " if cam.blur else ""
    parts = [
        f"( videotestsrc name=bg is-live=true pattern={pattern} foreground-color={fg} background-color={bg}",
        f"! {raw},width={w},height={h} ! compositor name=mix background=black latency={LATE_NS}",
        f"sink_1::xpos={w - bw - w // 32} sink_1::ypos={h - bh - h // 18} {blur}",
        # Leaky: while no client plays, the stream is blocked; the sources must not fall behind the clock, or
        # the next client would get a burst of stale frames as they catch up.
        "! videoconvert ! video/x-raw,format=I420 ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=600000000 leaky=downstream",
        f"! x264enc name=enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} pass=quant quantizer=26 threads=1",
        "! rtph264pay name=pay0 pt=96 config-interval=-1",
        f"videotestsrc name=box is-live=true pattern=smpte100 horizontal-speed={box_speed(cam)}",
        f"! {raw},width={bw},height={bh} ! mix.",
    ]
    if label:
        lw, lh = (w * 3 // 5) & ~1, (h // 9) & ~1
        parts += [
            f"videotestsrc is-live=true pattern=solid-color foreground-color=0xFF101010 ! {raw},width={lw},height={lh}",
            "! videoconvert ! rsvgoverlay name=label ! videoconvert ! mix.",
        ]
    return " ".join(parts) + " )"


def box_speed(cam: CameraSpec) -> int:
    """Pixels per frame: the bars cross the box in about 5 s whatever the size and rate."""
    return max(1, round(cam.width / 16 / cam.fps))


def label_svg(spec: CameraSpec, now: float) -> str:
    h = max(16, spec.height // 9)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now + ICT))
    text = f"{spec.name}  {stamp}".replace("&", "&amp;").replace("<", "&lt;")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{spec.width}" height="{h}">'
        f'<text x="{h // 4}" y="{h * 7 // 10}" font-family="DejaVu Sans" font-size="{h // 2}" fill="white">'
        f"{text}</text></svg>"
    )


def apply_behaviour(scene: Scene, behaviour: str, spec: CameraSpec, look: int) -> None:
    """Switch one running pipeline to a behaviour by changing element properties (no relinking)."""
    b = behaviour
    pattern, fg, bg = LOOKS[(look + (4 if b == "moved" else 0)) % len(LOOKS)]
    box_alpha, speed, label_alpha = 1.0, box_speed(spec), 1.0
    if b == "black":
        pattern, fg, bg, box_alpha, label_alpha = "solid-color", 0xFF000000, 0xFF000000, HIDDEN, HIDDEN
    elif b == "covered":
        # A hand or tape over the lens: dark and flat, with a faint shifting shade so frames still differ a little.
        pattern, fg, box_alpha, label_alpha = "solid-color", COVER_GREY, 0.04, HIDDEN
    elif b == "frozen":
        speed = 0
    Gst.util_set_object_arg(scene.bg, "pattern", pattern)
    scene.bg.set_property("foreground-color", fg)
    scene.bg.set_property("background-color", bg)
    scene.box.set_property("horizontal-speed", speed)
    scene.box_pad.set_property("alpha", box_alpha)
    if scene.label_pad is not None:
        scene.label_pad.set_property("alpha", label_alpha)
    if scene.blur is not None:
        scene.blur.set_property("sigma", BLUR_SIGMA if b == "blurred" else 0.0)
    slow = b == "slow"
    if slow and scene.slow_probe is None:
        scene.slow_probe = scene.encoder_pad.add_probe(Gst.PadProbeType.BUFFER, _slow_probe, scene, spec.fps)
    elif not slow and scene.slow_probe is not None:
        scene.encoder_pad.remove_probe(scene.slow_probe)
        scene.slow_probe = None


def pts_from_dts(_pad: Any, info: Any) -> Any:
    # Streaming thread. A raw byte-stream carries no times: h264parse derives decode times from the frame rate,
    # and with no B-frames (make_h264_clip) display time equals decode time. Without it RTP times stand still.
    buf = info.get_buffer()
    if buf.pts == Gst.CLOCK_TIME_NONE:
        buf.pts = buf.dts
    return Gst.PadProbeReturn.OK


def _slow_probe(_pad: Any, _info: Any, scene: Scene, fps: int) -> Any:
    # Streaming thread: keep one frame in every fps/SLOW_FPS so the camera delivers SLOW_FPS with honest timestamps.
    scene.frame_no += 1
    keep = scene.frame_no % max(1, fps // SLOW_FPS) == 0
    return Gst.PadProbeReturn.OK if keep else Gst.PadProbeReturn.DROP
