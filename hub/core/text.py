"""Text that devices send (camera and speaker names, offline reasons, receiver errors), made safe to show.

A device's words reach the wall, Zalo messages, CSV exports and PDFs. Whatever it sends, what is kept is one
line of printable text: control characters, bidirectional overrides and other invisible format characters
(which can make "moc.knab" read as "bank.com") are removed, Unicode is composed (NFC, as Vietnamese is typed),
runs of whitespace become one space, and the length is capped.
"""

from __future__ import annotations

import unicodedata

# Categories removed: Cc (control), Cf (format: bidi overrides and isolates, zero-width characters), Co
# (private use), Cs (lone surrogates), Cn (unassigned), Zl/Zp (line and paragraph separators).
_DROP = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def clean_text(value: str | None, limit: int = 200) -> str | None:
    """`value` as one clean line of at most `limit` characters; None when nothing printable is left."""
    if value is None:
        return None
    out = []
    for ch in unicodedata.normalize("NFC", value):
        if ch in "\t\n\r":
            out.append(" ")
        elif unicodedata.category(ch) not in _DROP:
            out.append(ch)
    text = " ".join("".join(out).split())[:limit].rstrip()
    return text or None
