"""A quick protocol check before OpenCV opens a stream, to tell technicians *why* a camera is offline.

FFmpeg (behind cv2) reports every failure as "could not open". One RTSP DESCRIBE (or HTTP GET) over a plain
socket distinguishes DNS failure, refused, timeout, a wrong path (404) and wrong credentials (401, with Digest
or Basic authentication done properly), for the price of one short TCP connection. Blocking: run it in a
worker thread. Reasons are Vietnamese sentences for people; they never contain credentials.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from contract import Problem
from device_runtime.redact import host_port

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
MAX_HEADER_BYTES = 16 * 1024
USER_AGENT = "commune-ops-edge"


@dataclass(frozen=True, slots=True)
class PreflightResult:
    ok: bool  # the stream looks servable
    problem: Problem | None = None
    reason: str | None = None
    status: int | None = None  # RTSP/HTTP status of the last answer, when there was one


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    phrase: str
    headers: list[tuple[str, str]]

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class _Failure(Exception):
    def __init__(self, problem: Problem, reason: str) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reason = reason


def _public_url(url: str) -> str:
    """The URL without user info, as sent on the wire and used as the Digest URI for RTSP."""
    p = urlsplit(url)
    return urlunsplit((p.scheme, host_port(p), p.path or "/", p.query, ""))


def _parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = value.strip().partition(" ")
    params = {
        k.lower(): v if v else bare for k, v, bare in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', rest)
    }
    return scheme.lower(), params


def authorization(challenges: list[str], method: str, uri: str, user: str, password: str) -> str | None:
    """The Authorization header answering a 401's WWW-Authenticate challenges (Digest preferred over Basic)."""
    parsed = [_parse_challenge(c) for c in challenges]
    for scheme, params in parsed:
        if scheme != "digest" or "nonce" not in params:
            continue
        algorithm = params.get("algorithm", "MD5")
        if algorithm.upper() not in ("MD5", "MD5-SESS"):
            continue
        realm, nonce = params.get("realm", ""), params["nonce"]

        def h(s: str) -> str:
            return hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()

        ha1 = h(f"{user}:{realm}:{password}")
        cnonce = os.urandom(8).hex()
        if algorithm.upper() == "MD5-SESS":
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        ha2 = h(f"{method}:{uri}")
        fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
        qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            nc = "00000001"
            response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = h(f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if "opaque" in params:
            fields.append(f'opaque="{params["opaque"]}"')
        if "algorithm" in params:
            fields.append(f"algorithm={algorithm}")
        return "Digest " + ", ".join(fields)
    if any(scheme == "basic" for scheme, _ in parsed):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return None


class _Conversation:
    """One TCP (or TLS) connection to the camera with a shared deadline."""

    def __init__(self, scheme: str, host: str, port: int, deadline: float) -> None:
        self.where = f"{host}:{port}"
        self.deadline = deadline
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise _Failure(
                Problem.UNREACHABLE, f"Không phân giải được tên máy {host!r} (DNS): {exc.strerror}"
            ) from exc
        family, _, _, _, addr = infos[0]
        timeout = self._remaining()
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(addr)
            if scheme in ("rtsps", "https"):
                ctx = ssl.create_default_context()
                # Cameras use self-signed certificates; this check is about reachability, not identity.
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                sock = ctx.wrap_socket(sock, server_hostname=host)
        except ConnectionRefusedError as exc:
            sock.close()
            raise _Failure(
                Problem.UNREACHABLE, f"Camera từ chối kết nối tới {self.where} (không có dịch vụ ở cổng này)"
            ) from exc
        except TimeoutError as exc:
            sock.close()
            raise _Failure(
                Problem.UNREACHABLE, f"Không kết nối được tới {self.where}: hết thời gian chờ (mất mạng?)"
            ) from exc
        except ssl.SSLError as exc:
            sock.close()
            raise _Failure(Problem.UNREACHABLE, f"Lỗi bắt tay TLS với {self.where}: {exc.reason}") from exc
        except OSError as exc:
            sock.close()
            raise _Failure(
                Problem.UNREACHABLE, f"Không tới được {self.where}: {exc.strerror or exc}"
            ) from exc
        self.sock = sock
        self.buf = b""

    def _remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Failure(Problem.UNREACHABLE, f"{self.where} không trả lời kịp thời gian chờ")
        return left

    def ask(self, request: bytes, protocol: str) -> _Answer:
        try:
            self.sock.settimeout(self._remaining())
            self.sock.sendall(request)
            while b"\r\n\r\n" not in self.buf:
                if len(self.buf) > MAX_HEADER_BYTES:
                    raise _Failure(
                        Problem.UNREACHABLE, f"{self.where} trả lời quá dài, không phải {protocol}"
                    )
                self.sock.settimeout(self._remaining())
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise _Failure(
                        Problem.UNREACHABLE, f"{self.where} đóng kết nối mà không trả lời {protocol}"
                    )
                self.buf += chunk
        except TimeoutError as exc:
            raise _Failure(
                Problem.UNREACHABLE,
                f"{self.where} nhận kết nối nhưng không trả lời {protocol} (treo hoặc sai cổng)",
            ) from exc
        except OSError as exc:
            raise _Failure(
                Problem.UNREACHABLE, f"Mất kết nối với {self.where}: {exc.strerror or exc}"
            ) from exc
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(rf"{protocol}/\d\.\d\s+(\d{{3}})\s*(.*)", lines[0])
        if not m:
            raise _Failure(
                Problem.UNREACHABLE, f"Thiết bị ở {self.where} không trả lời theo giao thức {protocol}"
            )
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers.append((name.strip(), value.strip()))
        answer = _Answer(int(m.group(1)), m.group(2).strip(), headers)
        length = answer.header_values("Content-Length")
        if length and length[0].isdigit():
            self._skip_body(int(length[0]))
        return answer

    def _skip_body(self, length: int) -> None:
        # Only the headers matter; drain a small body so a follow-up request on this connection parses cleanly.
        if length > MAX_HEADER_BYTES:
            return
        while len(self.buf) < length:
            self.sock.settimeout(self._remaining())
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        self.buf = self.buf[length:]

    def close(self) -> None:
        self.sock.close()


def _request(method: str, target: str, protocol: str, host: str, cseq: int, auth: str | None) -> bytes:
    lines = [f"{method} {target} {protocol}/1.{0 if protocol == 'RTSP' else 1}"]
    if protocol == "RTSP":
        lines += [f"CSeq: {cseq}", "Accept: application/sdp"]
    else:
        lines += [f"Host: {host}", "Accept: */*"]
    lines.append(f"User-Agent: {USER_AGENT}")
    if auth:
        lines.append(f"Authorization: {auth}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _verdict(answer: _Answer, protocol: str, with_credentials: bool, path: str) -> tuple[Problem | None, str]:
    code = f"{protocol} {answer.status} {answer.phrase}".strip()
    if answer.status < 400:
        return None, code
    if answer.status == 401:
        if with_credentials:
            return Problem.AUTH_FAILED, f"Sai tên đăng nhập hoặc mật khẩu camera ({code})"
        return Problem.AUTH_FAILED, f"Camera yêu cầu đăng nhập nhưng URL không có tài khoản ({code})"
    if answer.status == 403:
        return Problem.AUTH_FAILED, f"Tài khoản không được phép xem luồng này ({code})"
    if answer.status == 404:
        return Problem.UNREACHABLE, f"Không có luồng video ở đường dẫn {path} ({code})"
    return Problem.UNREACHABLE, f"Camera trả lời lỗi ({code})"


def preflight(url: str, timeout_s: float) -> PreflightResult:
    """Check that the stream behind `url` answers, and classify why not. Never raises for network errors."""
    started = time.monotonic()
    parts = urlsplit(url)
    scheme = parts.scheme
    protocol = "RTSP" if scheme.startswith("rtsp") else "HTTP"
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[scheme]
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else ""
    public = _public_url(url)
    target = (
        public if protocol == "RTSP" else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    )
    method = "DESCRIBE" if protocol == "RTSP" else "GET"
    host_header = parts.netloc.rpartition("@")[2]
    conv: _Conversation | None = None
    try:
        conv = _Conversation(scheme, host, port, started + timeout_s)
        answer = conv.ask(_request(method, target, protocol, host_header, 1, None), protocol)
        if answer.status == 401 and user is not None:
            auth = authorization(answer.header_values("WWW-Authenticate"), method, target, user, password)
            if auth is not None:
                # An HTTP server may close after a 401 (HTTP/1.0 does by default); RTSP keeps the session.
                if protocol == "HTTP" or any(
                    v.lower() == "close" for v in answer.header_values("Connection")
                ):
                    conv.close()
                    conv = _Conversation(scheme, host, port, started + timeout_s)
                answer = conv.ask(_request(method, target, protocol, host_header, 2, auth), protocol)
        problem, reason = _verdict(answer, protocol, user is not None, parts.path or "/")
        return PreflightResult(problem is None, problem, None if problem is None else reason, answer.status)
    except _Failure as exc:
        return PreflightResult(False, exc.problem, exc.reason)
    finally:
        if conv is not None:
            conv.close()
