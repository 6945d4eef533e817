"""Snapshot JPEGs for Zalo: its upload takes at most 1 MB, so larger pictures are re-encoded smaller."""

from __future__ import annotations

import cv2
import numpy as np

MAX_UPLOAD_BYTES = 1_000_000


def shrink_jpeg(jpeg: bytes, limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """`jpeg` itself when it fits; otherwise re-encoded at lower quality, then smaller, until it fits.
    Raises ValueError for bytes that are not a decodable image."""
    if len(jpeg) <= limit:
        return jpeg
    img = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("ảnh chụp không giải mã được")
    for _ in range(8):
        for quality in (85, 70, 55):
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(buf) <= limit:
                return bytes(buf.tobytes())
        h, w = img.shape[:2]
        img = cv2.resize(img, (max(1, int(w * 0.7)), max(1, int(h * 0.7))), interpolation=cv2.INTER_AREA)
    raise ValueError("không thu nhỏ được ảnh xuống dưới 1 MB")
