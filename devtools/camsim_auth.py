"""The simulator's RTSP authentication: Basic auth on protected cameras, answering 401 like a real camera.

Runs under Debian's /usr/bin/python3 with GStreamer's bindings, like devtools/camsim.py."""

from __future__ import annotations

from typing import Any

import gi

gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GstRtsp, GstRtspServer  # noqa: E402

ANONYMOUS = "anonymous"


def camera_name(abspath: str) -> str:
    """The camera of a request path: /cam, /cam/ and /cam/stream=0 (SETUP) all belong to cam."""
    return abspath.strip("/").split("/")[0]


def role_token(role: str) -> Any:
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", role)
    return token


class CameraAuth(GstRtspServer.RTSPAuth):
    """Basic auth on the protected cameras only, answering 401 like a real camera to missing or wrong credentials.

    Stock GstRTSPAuth with a default (anonymous) token answers 404 when that token may not see a camera, and
    ffmpeg then never retries with the credentials it holds. So the access check for a protected camera without
    its credentials answers 401 with a Basic challenge itself; every other check is the stock one.
    """

    def __init__(self, protected: dict[str, str]) -> None:
        super().__init__()
        self.protected = protected  # camera name -> expected "Basic ..." header value
        self.set_default_token(role_token(ANONYMOUS))

    def do_check(self, ctx: Any, check: str) -> bool:
        if check == "auth.check.media.factory.access" and ctx.uri is not None:
            expected = self.protected.get(camera_name(ctx.uri.abspath))
            _res, given = ctx.request.get_header(GstRtsp.RTSPHeaderField.AUTHORIZATION, 0)
            if expected is not None and given != expected:
                _res, reply = GstRtsp.rtsp_message_new_response(
                    GstRtsp.RTSPStatusCode.UNAUTHORIZED, None, ctx.request
                )
                reply.add_header(GstRtsp.RTSPHeaderField.WWW_AUTHENTICATE, 'Basic realm="camsim"')
                ctx.client.send_message(None, reply)
                return False
        return bool(GstRtspServer.RTSPAuth.do_check(self, ctx, check))
