"""Keep secrets (passwords and tokens in camera and other URLs, the MQTT password) out of logs and messages.

Two layers: `redact_url` for URLs we print on purpose, and `Redactor.scrub` for any free text (ffmpeg and
socket errors can quote a URL back at us), installed as a logging filter so nothing slips through.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"

# Query parameters that carry credentials in camera URLs (Hikvision/Dahua/ONVIF style and generic tokens).
_SECRET_PARAM = re.compile(r"pass|pwd|token|key|auth|secret|sig|credential", re.IGNORECASE)
# `scheme://user:pass@` or `scheme://token@` anywhere in a text.
_USERINFO_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_QUERY_SECRET_RE = re.compile(
    r"([?&;](?:[^=&\s]*(?:pass|pwd|token|key|auth|secret|sig|credential)[^=&\s]*)=)[^&\s]+", re.IGNORECASE
)


def host_port(parts: SplitResult) -> str:
    """`host[:port]` of a split URL, without user info (IPv6 hosts bracketed). Raises ValueError on a bad port."""
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    return netloc if parts.port is None else f"{netloc}:{parts.port}"


def redact_url(url: str) -> str:
    """The URL with user info and secret-looking query values masked: `rtsp://***@10.0.0.5:554/live`."""
    try:
        parts = urlsplit(url)
        netloc = host_port(parts)
    except ValueError:
        return scrub_text(url)
    if parts.username is not None or parts.password is not None:
        netloc = f"{MASK}@{netloc}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_secrets(url: str) -> list[str]:
    """The password and secret-looking query values of a URL, for exact-match scrubbing."""
    try:
        parts = urlsplit(url)
        found = [unquote(parts.password)] if parts.password else []
    except ValueError:
        return []
    found += [v for k, v in parse_qsl(parts.query) if _SECRET_PARAM.search(k) and v]
    return found


def scrub_text(text: str) -> str:
    """Mask URL user info and secret query values wherever they appear in a text."""
    return _QUERY_SECRET_RE.sub(rf"\1{MASK}", _USERINFO_RE.sub(rf"\1{MASK}@", text))


class Redactor:
    """Scrubs patterns plus the exact secret strings known from the config (replaced on reload)."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.set_secrets(secrets or [])

    def set_secrets(self, secrets: list[str]) -> None:
        # Very short "secrets" would mask ordinary words; they are still caught by the URL patterns.
        cleaned = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        with self._lock:
            self._secrets = tuple(cleaned)

    def scrub(self, text: str) -> str:
        text = scrub_text(text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingFilter(logging.Filter):
    """Logging filter that renders each record once and scrubs it (message and exception text)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self.redactor.scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.scrub(record.exc_text)
        return True
