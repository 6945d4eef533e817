"""JSON Schemas of the content library API (broadcast/web/content/api.py): the TTS body, one content item, the
list, the id in the path."""

from __future__ import annotations

from typing import Any

from broadcast.config import SPEED_MAX, SPEED_MIN
from broadcast.content import store as lib
from broadcast.content.tts import EspeakEngine
from broadcast.web.content.create import AREA_FIELD, CSRF_FIELD, SLUG_OR_EMPTY, URGENT_FIELD
from hub.core.openapi import Param
from hub.web.validation import form_schema

ID_PARAM = Param(
    "id", "Content id", {"type": "integer", "minimum": 1, "maximum": 999_999_999}, where="path", example=1
)
ID_PATH = r"/content/{id:\d{1,9}}"
_NULLABLE_TEXT = {"type": ["string", "null"]}
TTS_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {
            **_NULLABLE_TEXT,
            "maxLength": lib.TITLE_MAX,
            "description": "Required to create (blank: 422)",
        },
        "text": {
            **_NULLABLE_TEXT,
            "maxLength": 50_000,
            "description": "Required; longer than the hub's "
            "broadcast.content.tts_max_chars, blank or wordless: 422",
        },
        "voice": {
            "enum": [*EspeakEngine.voices, "", None],
            "description": "default broadcast.content.tts_voice",
        },
        "speed": {
            "type": ["number", "null"],
            "minimum": SPEED_MIN,
            "maximum": SPEED_MAX,
            "description": "Speaking speed, 1 = normal (broadcast.content.tts_rate_wpm); default "
            "broadcast.content.tts_speed. Forms send it as a string; outside the range: 422",
        },
        "district": {**SLUG_OR_EMPTY, "type": ["string", "null"]},
        "commune": {**SLUG_OR_EMPTY, "type": ["string", "null"]},
        "area": {**AREA_FIELD, "type": ["string", "null"]},
        "csrf": {**CSRF_FIELD, "type": ["string", "null"]},
        "urgent": {**URGENT_FIELD, "type": ["string", "null"]},
    },
    "additionalProperties": False,
}
TTS_FORM = form_schema(TTS_BODY)
TTS_MAX_BYTES = 1024 * 1024  # 50,000 characters even as JSON \u escapes, past the app's 64 KiB for forms
CONTENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "district", "commune", "title", "source", "sha256", "duration_s", "loudness_lufs"],
    "properties": {
        "id": {"type": "integer"},
        "district": {"type": "string"},
        "commune": {"type": "string"},
        "title": {"type": "string"},
        "source": {"type": "string", "enum": list(lib.SOURCES)},
        "source_label": {"type": "string"},
        "text": {"type": ["string", "null"], "description": "The TTS input"},
        "voice": {"type": ["string", "null"], "description": "The voice that spoke the text (TTS only)"},
        "speed": {"type": ["number", "null"], "description": "Its speaking speed, 1 = normal (TTS only)"},
        "original_name": {"type": ["string", "null"]},
        "sha256": {"type": "string", "description": "Of the processed MP3"},
        "size": {"type": "integer", "description": "Bytes of the processed MP3"},
        "duration_s": {"type": "number"},
        "loudness_lufs": {"type": "number", "description": "Measured integrated loudness of the MP3"},
        "true_peak_dbtp": {"type": "number", "description": "Measured true peak of the MP3"},
        "created_by": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "deleted_at": {"type": ["string", "null"], "format": "date-time"},
        "media_url": {
            "type": ["string", "null"],
            "description": "/media/{sha256}.mp3 (no login needed); null for a relay",
        },
        "original_url": {"type": ["string", "null"]},
        "relay_upstream_id": {
            "type": ["integer", "null"],
            "description": "relay: the allow-list entry it plays",
        },
        "relay_fallback_id": {
            "type": ["integer", "null"],
            "description": "relay: content played in its gaps",
        },
        "used_by": {"type": "array", "description": "Programmes still to air that play it (GET one only)"},
    },
}
CONTENT_LIST = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": CONTENT},
        "total": {"type": "integer"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
    },
}
