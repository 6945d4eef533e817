"""What the fake Zalo server knows: its fault table, the tokens it issued, what it received and the messages
it accepted (devtools/fakezalo.py serves the real paths over them)."""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("group", "upload", "upload_file", "oauth", "bot")
# fault → (error code, message) answered as HTTP 200, like Zalo does
CODE_FAULTS: dict[str, tuple[int, str]] = {
    "token_expired": (-216, "Access token is invalid"),
    "token_invalid": (-220, "Access token has expired"),
    "rate_limit": (-32, "Request limit exceeded"),
    "reauth": (-118, "App has not been authorized by OA"),
    "reauth_oauth": (-14014, "Invalid refresh token"),
    "bad_params": (-201, "Parameters are invalid"),
    "not_in_group": (-237, "User is not a member of the group"),
    "forbidden": (-403, "Forbidden"),
}
HTTP_FAULTS = {"http_500": 500, "http_502": 502, "http_503": 503}
# Delivered to the group, then no answer until the client gives up: what a retry turns into a duplicate.
AFTER_DELIVERY = ("deliver_then_hang",)
FAULTS = (*CODE_FAULTS, *HTTP_FAULTS, "hang", *AFTER_DELIVERY)
MAX_IMAGE_BYTES = 1_000_000
MAX_FILE_BYTES = 5 * 1024 * 1024  # /v2.0/oa/upload/file: PDF, DOC, DOCX up to 5 MB
FILE_TYPES = (
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)
MAX_TEXT = 2000


@dataclass
class Received:
    at: float
    endpoint: str
    path: str
    headers: dict[str, str]
    body: Any  # JSON body, form fields, or {"file_bytes": n}
    answer: dict[str, Any] | None = None
    status: int = 200


@dataclass
class Message:
    """A message the fake accepted (as Zalo would have delivered it)."""

    at: float
    channel: str  # oa / bot
    target: str  # group id / chat id
    text: str
    attachment_id: str | None = None
    photo: str | None = None
    message_id: str = ""
    file_token: str | None = None  # a file message: the token /v2.0/oa/upload/file answered


@dataclass
class FakeState:
    app_id: str = "fake-app"
    secret_key: str = "fake-secret"
    bot_token: str = "123:fake-bot-token"
    access_ttl_s: float = 90000.0
    refresh_token: str = field(default_factory=lambda: "rt-" + secrets.token_hex(6))
    access_tokens: dict[str, float] = field(default_factory=dict)  # token → expiry (epoch s)
    used_refresh_tokens: set[str] = field(default_factory=set)
    attachments: dict[str, int] = field(default_factory=dict)  # attachment id → bytes
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file token → (file name, content)
    groups: set[str] | None = None  # None: every group id exists; otherwise only these
    faults: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    requests: list[Received] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    refreshes: int = 0
