"""QR codes of provisioning files, for the installer's phone (segno; SVG for the page, PNG for a file)."""

from __future__ import annotations

import base64
import io

import segno

# A provisioning file with its CA certificate is about 1.3 KB: a version ~25 symbol at error level M, which a
# phone reads off a laptop screen. Level L would be smaller, M survives a glare or a crease on a printout.
ERROR = "m"


def _make(text: str) -> segno.QRCode:
    try:
        return segno.make(text, error=ERROR, micro=False, boost_error=False)
    except segno.DataOverflowError as exc:  # over ~2.3 KB at level M
        raise ValueError(
            f"the provisioning file ({len(text.encode())} bytes) does not fit a QR code"
        ) from exc


def svg(text: str, scale: int = 3) -> str:
    """An inline <svg> element (no XML declaration), dark modules on white."""
    return str(_make(text).svg_inline(scale=scale, border=4, dark="#000", light="#fff"))


def png(text: str, scale: int = 4) -> bytes:
    buf = io.BytesIO()
    _make(text).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def png_data_url(text: str, scale: int = 4) -> str:
    return "data:image/png;base64," + base64.b64encode(png(text, scale)).decode()


def save(text: str, path: str) -> None:
    """PNG or SVG, by the file name's extension."""
    kind = "svg" if path.lower().endswith(".svg") else "png"
    _make(text).save(path, kind=kind, scale=4 if kind == "png" else 3, border=4)
