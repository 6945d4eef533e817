"""Zalo tokens encrypted at rest (Fernet, from `cryptography`) with a key from the environment.

Whoever reads the database (a backup, a copied file, a read-only SQL account) must not be able to send as the
commune's Official Account. With `OPS_TOKEN_KEY` set (a Fernet key: `python -c "from cryptography.fernet
import Fernet; print(Fernet.generate_key().decode())"`), every token is written encrypted, marked `fernet:`;
a plaintext value is never written. Rows written before the key was set are still read (plaintext), and are
encrypted at the next write (the token store rewrites them at start). Without the key, tokens are stored in
plaintext and the hub says so in its log; an encrypted value it cannot open is treated as no token.
"""

from __future__ import annotations

import logging
import os

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger("hub.notify")

KEY_ENV = "OPS_TOKEN_KEY"
MARK = "fernet:"


class SealError(ValueError):
    """An encrypted token that cannot be opened (no key, or another key)."""


class Sealer:
    def __init__(self, key: str | bytes | None) -> None:
        self._fernet = Fernet(key) if key else None  # ValueError on a malformed key: the hub must not start

    @classmethod
    def from_env(cls) -> Sealer:
        key = os.environ.get(KEY_ENV, "").strip() or None
        try:
            sealer = cls(key)
        except ValueError:
            raise SealError(f"{KEY_ENV} is not a Fernet key (32 bytes, url-safe base64)") from None
        if key is None:
            log.warning("%s is not set: Zalo tokens are stored in the database in plaintext", KEY_ENV)
        return sealer

    @property
    def armed(self) -> bool:
        return self._fernet is not None

    def seal(self, value: str | None) -> str | None:
        if value is None or self._fernet is None:
            return value
        return MARK + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        """The token; a plaintext one (from before the key) is returned as it is. Raises SealError."""
        if value is None or not value.startswith(MARK):
            return value
        if self._fernet is None:
            raise SealError(f"the stored token is encrypted and {KEY_ENV} is not set")
        try:
            return self._fernet.decrypt(value[len(MARK) :].encode()).decode()
        except InvalidToken:
            raise SealError(f"the stored token does not open with this {KEY_ENV}") from None

    def is_plain(self, value: str | None) -> bool:
        return value is not None and not value.startswith(MARK)
